import zlib from 'node:zlib';
import { opChecksum, opChecksumInput, type ChecksummedOp } from '@/lib/sync/protocol/checksum';

/**
 * zlib's CRC-32 (Node 20.15 and later) is the same function as lib/sync/protocol's crc32Utf8, and
 * Node encodes a string to UTF-8 the same way (a lone surrogate becomes U+FFFD), so the results are
 * identical (checksum.test.ts) at a quarter of the cost: the replicator checksums every op it writes.
 */
const nativeCrc32 = (zlib as { crc32?: (data: string, value?: number) => number }).crc32;

/** The checksum of one PUT or REMOVE op: opChecksum from lib/sync/protocol, computed natively when Node can. */
export const storageOpChecksum: (op: ChecksummedOp, table: string, rowId: string, data: string | null) => number = nativeCrc32
  ? (op, table, rowId, data) => nativeCrc32(opChecksumInput(op, table, rowId, data))
  : opChecksum;
