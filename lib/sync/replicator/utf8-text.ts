/** Text values out of the bytes Postgres sends (pgoutput tuples, COPY text rows), for the replicator's hot paths. */

type SliceableBuffer = Buffer & { utf8Slice?: (start: number, end: number) => string };
/** Buffer#utf8Slice skips toString's argument checks, a good part of the cost for short values. */
const utf8: (buf: Buffer, start: number, end: number) => string =
  typeof (Buffer.prototype as SliceableBuffer).utf8Slice === 'function'
    ? (buf, start, end) => (buf as SliceableBuffer).utf8Slice!(start, end)
    : (buf, start, end) => buf.toString('utf8', start, end);

/** One-byte ASCII values ('t', 'f', digits) are common: one string each, made once. */
const ASCII = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i));

/** buf[start, end) decoded as UTF-8; a one-byte ASCII value comes from a table, not a new string. */
export function utf8Text(buf: Buffer, start: number, end: number): string {
  if (end - start === 1 && buf[start]! < 0x80) return ASCII[buf[start]!]!;
  return utf8(buf, start, end);
}
