import zlib from 'node:zlib';
import { opChecksum, opChecksumInput, type ChecksummedOp } from '@/lib/sync/protocol/checksum';

/**
 * zlib's CRC-32 (Node 20.15 and later) is the same function as lib/sync/protocol's crc32Utf8, and
 * Node encodes a string to UTF-8 the same way (a lone surrogate becomes U+FFFD), so the results are
 * identical (checksum.test.ts) at a quarter of the cost: the replicator checksums every op it writes.
 */
const nativeCrc32 = (zlib as { crc32?: (data: string | Uint8Array, value?: number) => number }).crc32;

/**
 * CRC-32 of `bytes` continuing from `crc`, natively; only once opChecksumPrefix returned a
 * number. A COPY encoder checksums the UTF-8 it has just written instead of encoding the text again.
 */
export function continueCrc32(crc: number, bytes: Uint8Array): number {
  return nativeCrc32!(bytes, crc);
}

/** The checksum's input up to the data: crc32 of `${op}\n${table}\n${rowId}\n`, or undefined without native CRC-32. */
export function opChecksumPrefix(op: ChecksummedOp, table: string, rowId: string): number | undefined {
  return nativeCrc32 ? nativeCrc32(`${op}\n${table}\n${rowId}\n`) : undefined;
}

/** The checksum of one PUT or REMOVE op: opChecksum from lib/sync/protocol, computed natively when Node can. */
export const storageOpChecksum: (op: ChecksummedOp, table: string, rowId: string, data: string | null) => number = nativeCrc32
  ? (op, table, rowId, data) => nativeCrc32(opChecksumInput(op, table, rowId, data))
  : opChecksum;
