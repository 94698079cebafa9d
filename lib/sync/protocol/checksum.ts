/**
 * Checksums, shared by the server and every client (docs/protocol.md#checksums).
 *
 * An op's checksum is CRC-32 (IEEE 802.3, as zlib and PNG use it) of the UTF-8 bytes of
 *   `${op}\n${table}\n${row_id}\n${data}`
 * where `data` is the op's JSON text exactly as sent on the wire ('' for REMOVE).
 * A bucket's checksum is the sum of its ops' checksums modulo 2^32, so the checksum of a range
 * of ops is the sum of its parts, and compaction (which replaces ops by MOVE/CLEAR ops that carry
 * the checksums they replace) leaves a bucket's checksum unchanged.
 */

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 of a string's UTF-8 bytes, computed without allocating the byte array. */
export function crc32Utf8(text: string, seed = 0): number {
  let crc = ~seed >>> 0;
  const byte = (b: number) => {
    crc = TABLE[(crc ^ b) & 0xff]! ^ (crc >>> 8);
  };
  for (let i = 0; i < text.length; i++) {
    let code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
        i++;
      }
    } else if (code >= 0xd800 && code <= 0xdfff) {
      code = 0xfffd; // a lone surrogate encodes as U+FFFD, as TextEncoder does
    }
    if (code < 0x80) byte(code);
    else if (code < 0x800) {
      byte(0xc0 | (code >> 6));
      byte(0x80 | (code & 0x3f));
    } else if (code < 0x10000) {
      byte(0xe0 | (code >> 12));
      byte(0x80 | ((code >> 6) & 0x3f));
      byte(0x80 | (code & 0x3f));
    } else {
      byte(0xf0 | (code >> 18));
      byte(0x80 | ((code >> 12) & 0x3f));
      byte(0x80 | ((code >> 6) & 0x3f));
      byte(0x80 | (code & 0x3f));
    }
  }
  return ~crc >>> 0;
}

export type ChecksummedOp = 'PUT' | 'REMOVE';

/** The text an op's checksum is computed over. */
export function opChecksumInput(op: ChecksummedOp, table: string, rowId: string, data: string | null): string {
  return `${op}\n${table}\n${rowId}\n${data ?? ''}`;
}

/** The checksum of one PUT or REMOVE op. */
export function opChecksum(op: ChecksummedOp, table: string, rowId: string, data: string | null): number {
  return crc32Utf8(opChecksumInput(op, table, rowId, data));
}

/** Adds checksums modulo 2^32. */
export function addChecksums(a: number, b: number): number {
  return (a + b) >>> 0;
}

/** Subtracts checksums modulo 2^32 (the checksum of a range from two running totals). */
export function subtractChecksums(a: number, b: number): number {
  return (a - b) >>> 0;
}
