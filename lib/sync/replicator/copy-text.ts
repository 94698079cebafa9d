import { ReplicationError } from './errors';
import type { SourceRow } from './changes';
import { utf8Text } from './utf8-text';

const TAB = 0x09;
const NEWLINE = 0x0a;
const BACKSLASH = 0x5c;

function copyError(message: string): ReplicationError {
  return new ReplicationError('SNAPSHOT_COPY_INVALID', `Could not parse the snapshot's COPY output: ${message}.`);
}

/**
 * The output of one COPY ... TO STDOUT in text format (https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.2),
 * the snapshot's way of reading source rows: each value is exactly what the type's output function
 * prints (the same text pgoutput and a SELECT in text mode deliver), and the rows arrive as one
 * byte stream that is split here, without a protocol message, an event and a result object per
 * row as a SELECT costs in node-postgres.
 *
 * The output is kept as its bytes and each row parsed only when it is asked for. The snapshot
 * reads the next chunk while it plans the current one: as bytes, the waiting chunk is a single
 * buffer outside the JS heap, where 10,000 parsed rows (objects and their strings) would outlive
 * several young-generation collections and be copied by each of them.
 *
 * Rows end with a newline, values are separated by a tab, SQL NULL is `\N`, and a backslash
 * escapes the rest (`\\`, `\n`, `\t`, ...; octal and hex escapes are decoded too although COPY TO
 * never writes them). Each row becomes a plain object with its columns in table order, so every
 * row of a table shares one V8 shape (as pgoutput.ts's rows do).
 */
export class CopyTextRows {
  /** Where each row's newline is. */
  private readonly ends: number[] = [];

  constructor(
    private readonly bytes: Buffer,
    /** The columns, in table order. */
    readonly columns: readonly string[],
  ) {
    if (columns.length === 0) throw copyError('a table without columns');
    for (let at = bytes.indexOf(NEWLINE); at >= 0; at = bytes.indexOf(NEWLINE, at + 1)) this.ends.push(at);
    const last = this.ends.length > 0 ? this.ends[this.ends.length - 1]! : -1;
    if (last !== bytes.length - 1) throw copyError('the output ended inside a row');
  }

  get count(): number {
    return this.ends.length;
  }

  /** Row `i` (0-based), parsed now. */
  row(i: number): SourceRow {
    const end = this.ends[i];
    if (end === undefined) throw new RangeError(`row ${i} of ${this.ends.length}`);
    return this.parse(i === 0 ? 0 : this.ends[i - 1]! + 1, end);
  }

  /** The row whose bytes are `bytes[start, end)` (without its newline). */
  private parse(start: number, end: number): SourceRow {
    const buf = this.bytes;
    const columns = this.columns;
    const count = columns.length;
    const row: SourceRow = {};
    let pos = start;
    for (let i = 0; i < count; i++) {
      if (pos > end) throw copyError(`a row with fewer than ${count} values`);
      // One pass to the value's end, noting whether it has escapes (rare: only in texts).
      let stop = pos;
      let escaped = false;
      for (; stop < end; stop++) {
        const c = buf[stop]!;
        if (c === TAB) break;
        if (c === BACKSLASH) {
          escaped = true;
          stop++; // an escaped tab or backslash is part of the value
        }
      }
      if (stop > end) throw copyError('a row ending with a lone backslash');
      const length = stop - pos;
      let value: string | null;
      if (length === 2 && buf[pos] === BACKSLASH && buf[pos + 1] === 0x4e) value = null; // \N
      else if (escaped) value = unescape(buf, pos, stop);
      else value = utf8Text(buf, pos, stop);
      row[columns[i]!] = value;
      pos = stop + 1;
    }
    if (pos !== end + 1) throw copyError(`a row with more than ${count} values`);
    return row;
  }
}

/** A value with backslash escapes, decoded as COPY FROM would. */
function unescape(buf: Buffer, start: number, end: number): string {
  const out = Buffer.allocUnsafe(end - start);
  let n = 0;
  for (let pos = start; pos < end; pos++) {
    const c = buf[pos]!;
    if (c !== BACKSLASH) {
      out[n++] = c;
      continue;
    }
    const e = buf[++pos]!;
    switch (e) {
      case 0x62: out[n++] = 0x08; break; // \b
      case 0x66: out[n++] = 0x0c; break; // \f
      case 0x6e: out[n++] = 0x0a; break; // \n
      case 0x72: out[n++] = 0x0d; break; // \r
      case 0x74: out[n++] = 0x09; break; // \t
      case 0x76: out[n++] = 0x0b; break; // \v
      case 0x78: { // \x: one or two hex digits
        let value = 0;
        let digits = 0;
        while (digits < 2 && pos + 1 < end && hexDigit(buf[pos + 1]!) >= 0) {
          value = value * 16 + hexDigit(buf[++pos]!);
          digits++;
        }
        if (digits === 0) out[n++] = e;
        else out[n++] = value;
        break;
      }
      default:
        if (e >= 0x30 && e <= 0x37) { // \ooo: one to three octal digits
          let value = e - 0x30;
          for (let digits = 1; digits < 3 && pos + 1 < end && buf[pos + 1]! >= 0x30 && buf[pos + 1]! <= 0x37; digits++) value = value * 8 + (buf[++pos]! - 0x30);
          out[n++] = value & 0xff;
        } else out[n++] = e; // \\ and any other escaped character: itself
    }
  }
  return out.toString('utf8', 0, n);
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}
