import type pg from 'pg';
import type { CopyRow } from '@/lib/sync/storage/copy-out';
import { OpField, streamOpsPage, type OpsPageEnd, type PageLimits } from '@/lib/sync/storage/ops-pages';

/**
 * The `data` line of a page, encoded straight from the bytes Postgres sends (a binary COPY, see
 * streamOpsPage) into one buffer: no JS string per value, no JSON.stringify, no second pass to
 * measure. The line is byte for byte what encodeDataLine (encode.ts) makes from the same ops as
 * strings; JSON escaping follows JSON.stringify's, which for text from Postgres (valid UTF-8, no
 * NUL) escapes exactly `"`, `\` and the control characters below U+0020.
 */

/** One encoded page of a bucket: a complete `data` line, ready to send. */
export interface DataLinePage {
  /** The line's UTF-8 bytes; every stream sending the page writes this same buffer. */
  line: Buffer;
  count: number;
  /** The op id of the page's last op (the bucket's position once it is applied); `after` when empty. */
  nextAfter: number;
  hasMore: boolean;
}

/**
 * Reads the page of the bucket's ops in (after, upTo] (bounded by `limits`, as streamOpsPage) and
 * encodes its data line as the rows arrive.
 *
 * @example
 *   const page = await readDataLine(pool, rulesId, 'list["1"]', 0, checkpoint.opId, { maxOps: 2000, maxBytes: 1 << 20 });
 *   if (page.count > 0) response.write(page.line);
 */
export async function readDataLine(pool: Pick<pg.Pool, 'connect'>, rulesId: number, bucket: string, after: number, upTo: number, limits: PageLimits): Promise<DataLinePage> {
  const writer = new DataLineWriter(bucket, after);
  const end = await streamOpsPage(pool, rulesId, bucket, after, upTo, limits, (row) => writer.op(row), (ops, dataBytes) => writer.reserve(ops, dataBytes));
  return { line: writer.finish(end), count: end.count, nextAfter: end.lastOpId ?? after, hasMore: end.hasMore };
}

const NO_MORE = Buffer.from('"has_more":false,"ops":[');
const MORE = Buffer.from('"has_more":true,"ops":[');

/**
 * A page's data line saying `"has_more":true` instead of false, as two pieces to send in turn: a
 * new head, and the rest of the line as a view of the same buffer (which other streams may be
 * sending as it is, so it is neither changed nor copied). The first `"has_more":false,"ops":[` is
 * the head's: inside a JSON string, such as the bucket name before it, every `"` is escaped.
 */
export function withHasMore(line: Buffer): [Buffer, Buffer] {
  const at = line.indexOf(NO_MORE);
  if (at < 0) throw new Error('withHasMore: not a data line saying "has_more":false');
  return [Buffer.concat([line.subarray(0, at), MORE]), line.subarray(at + NO_MORE.length)];
}

/**
 * Room reserved per op beyond its data (reserve): the fixed text, op id, table, row id and
 * checksum, which come to about 130 bytes with a UUID row id. A line that outgrows its estimate
 * (long row ids, data with many characters to escape) grows once, by doubling.
 */
const PER_OP = 192;
/** A line written without reserve() first grows from this size. */
const MIN_GROWTH = 16 * 1024;
/** A value is escaped this many bytes at a time, so a huge one needs no 6× buffer at once. */
const SEGMENT = 16 * 1024;
/** Longest escape of one byte: \u00XX. */
const WORST = 6;
/** Op ids are safe integers: at most 16 digits. */
const MAX_ID_DIGITS = 16;

/** For each byte: 0 when it stands for itself in a JSON string, else the letter after the backslash ('u' for \u00XX). */
const ESCAPE = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) ESCAPE[c] = 0x75;
for (const [c, letter] of [
  [0x08, 'b'],
  [0x09, 't'],
  [0x0a, 'n'],
  [0x0c, 'f'],
  [0x0d, 'r'],
  [0x22, '"'],
  [0x5c, '\\'],
] as const)
  ESCAPE[c] = letter.charCodeAt(0);
const HEX = Buffer.from('0123456789abcdef', 'latin1');

const ascii = (text: string) => Buffer.from(text, 'latin1');
const OPEN_FIRST = ascii('{"op_id":"');
const OPEN_NEXT = ascii(',{"op_id":"');
const AFTER_ID = ascii('","op":"');
const AFTER_OP = ascii('","table":');
const AFTER_TABLE = ascii(',"row_id":');
const AFTER_ROW_ID = ascii(',"data":');
const AFTER_DATA = ascii(',"checksum":');
const NULL = ascii('null');
const CLOSE_LINE = ascii(']}\n');

/**
 * Builds one data line, op by op. The line's head (`next_after`, `has_more`) is known only at the
 * end: room for its longest form is kept at the front and it is written last, right before the
 * first op, so the ops are never moved. The buffer is sized once from the page's bounds
 * (reserve), so a line is neither grown and copied as it fills nor kept in a buffer much larger
 * than itself.
 */
export class DataLineWriter {
  private out: Buffer;
  private at: number;
  private readonly room: number;
  private ops = 0;

  constructor(
    private readonly bucket: string,
    private readonly after: number,
  ) {
    this.room = Buffer.byteLength(this.head(after, false)) + MAX_ID_DIGITS + 1;
    this.out = Buffer.allocUnsafe(this.room + CLOSE_LINE.length);
    this.at = this.room;
  }

  private head(next: number, hasMore: boolean): string {
    return `{"type":"data","bucket":${JSON.stringify(this.bucket)},"after":"${this.after}","next_after":"${next}","has_more":${hasMore},"ops":[`;
  }

  /** Makes room for a page of `ops` ops holding `dataBytes` bytes of data, before they come: a quarter more for escapes. */
  reserve(ops: number, dataBytes: number): void {
    this.ensure(dataBytes + (dataBytes >> 2) + ops * PER_OP + CLOSE_LINE.length);
  }

  /** Appends one op, from a row of streamOpsPage. */
  op(row: CopyRow): void {
    const { bytes, start, end } = row;
    const id0 = start[OpField.opId]!;
    const op0 = start[OpField.op]!;
    const sum0 = start[OpField.checksum]!;
    const idEnd = end[OpField.opId]!;
    const opEnd = end[OpField.op]!;
    const sumEnd = end[OpField.checksum]!;
    // Op id, op and checksum are digits and a few capital letters: copied as they are.
    this.ensure(64 + (idEnd - id0) + (opEnd - op0) + (sumEnd - sum0));
    this.put(this.ops === 0 ? OPEN_FIRST : OPEN_NEXT);
    this.copy(bytes, id0, idEnd);
    this.put(AFTER_ID);
    this.copy(bytes, op0, opEnd);
    this.put(AFTER_OP);
    this.string(bytes, start[OpField.table]!, end[OpField.table]!);
    this.ensure(16);
    this.put(AFTER_TABLE);
    this.string(bytes, start[OpField.rowId]!, end[OpField.rowId]!);
    this.ensure(16);
    this.put(AFTER_ROW_ID);
    this.string(bytes, start[OpField.data]!, end[OpField.data]!);
    this.ensure(16 + (sumEnd - sum0));
    this.put(AFTER_DATA);
    this.copy(bytes, sum0, sumEnd);
    this.out[this.at++] = 0x7d; // }
    this.ops++;
  }

  /** The complete line; the writer is spent. */
  finish(end: Pick<OpsPageEnd, 'lastOpId' | 'hasMore'>): Buffer {
    this.ensure(CLOSE_LINE.length);
    this.put(CLOSE_LINE);
    const head = Buffer.from(this.head(end.lastOpId ?? this.after, end.hasMore), 'utf8');
    const from = this.room - head.length;
    head.copy(this.out, from);
    const line = this.out.subarray(from, this.at);
    // A line that fills less than half of the buffer it grew in is copied out, so the spare room is not kept alive with it.
    return this.out.length - line.length > line.length + 4096 ? Buffer.from(line) : line;
  }

  private ensure(bytes: number): void {
    if (this.at + bytes <= this.out.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.at + bytes, MIN_GROWTH));
    this.out.copy(grown, 0, 0, this.at);
    this.out = grown;
  }

  /** Short constants, byte by byte: cheaper than a call to copy a few bytes. Room is ensured by the caller. */
  private put(constant: Buffer): void {
    const out = this.out;
    let at = this.at;
    for (let i = 0; i < constant.length; i++) out[at++] = constant[i]!;
    this.at = at;
  }

  private copy(bytes: Buffer, from: number, to: number): void {
    const out = this.out;
    let at = this.at;
    for (let i = from; i < to; i++) out[at++] = bytes[i]!;
    this.at = at;
  }

  /** A JSON string of the UTF-8 text bytes[from, to), or null when from is -1. */
  private string(bytes: Buffer, from: number, to: number): void {
    if (from < 0) {
      this.ensure(NULL.length);
      this.put(NULL);
      return;
    }
    for (let s = from; s < to || s === from; s += SEGMENT) {
      const e = Math.min(to, s + SEGMENT);
      this.ensure(WORST * (e - s) + 2);
      const out = this.out;
      let at = this.at;
      if (s === from) out[at++] = 0x22;
      for (let i = s; i < e; i++) {
        const c = bytes[i]!;
        // Most bytes: above the double quote, and not a backslash.
        if (c > 0x22 && c !== 0x5c) {
          out[at++] = c;
          continue;
        }
        const escape = ESCAPE[c]!;
        if (escape === 0) {
          out[at++] = c;
        } else if (escape !== 0x75) {
          out[at++] = 0x5c;
          out[at++] = escape;
        } else {
          out[at++] = 0x5c;
          out[at++] = 0x75;
          out[at++] = 0x30;
          out[at++] = 0x30;
          out[at++] = HEX[c >> 4]!;
          out[at++] = HEX[c & 15]!;
        }
      }
      if (e === to) out[at++] = 0x22;
      this.at = at;
      if (e === to) break;
    }
  }
}
