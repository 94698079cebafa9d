/**
 * Rows in COPY's binary format (https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4),
 * built straight into buffers: no escaping, and every value is length-prefixed, so nothing a value
 * contains can be read as anything but that value.
 *
 * The replicator encodes every snapshot row with it, so it is written for speed: integers byte by
 * byte (cheaper than Buffer's checked writeInt32BE), and pages recycled once Postgres has consumed
 * them (a fresh page costs a page fault per 4 KB on first touch).
 */
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const PAGE = 1 << 20;
const spare: Buffer[] = [];
const MAX_SPARE = 16;
/** Strings up to this length are tried as ASCII first. */
const SHORT = 64;

type WritableBuffer = Buffer & { utf8Write?: (value: string, offset: number) => number };
/**
 * Buffer#utf8Write skips write()'s argument parsing (encoding, offset and length checks): the
 * replicator writes every op's data with it. The page always has room (ensure() was called).
 */
const writeUtf8: (page: Buffer, value: string, at: number) => number =
  typeof (Buffer.prototype as WritableBuffer).utf8Write === 'function'
    ? (page, value, at) => (page as WritableBuffer).utf8Write!(value, at)
    : (page, value, at) => page.write(value, at);

function newPage(bytes: number): Buffer {
  if (bytes <= PAGE) return spare.pop() ?? Buffer.allocUnsafe(PAGE);
  return Buffer.allocUnsafe(bytes);
}

export class BinaryCopyWriter {
  private readonly full: Buffer[] = [];
  private page = newPage(PAGE);
  private at = 0;
  private rows = 0;
  private lastValueAt = 0;
  private finished: Buffer[] | undefined;

  constructor() {
    SIGNATURE.copy(this.page, 0);
    this.page.fill(0, 11, 19); // flags, header extension length
    this.at = 19;
  }

  get rowCount(): number {
    return this.rows;
  }

  /** Starts a row of `fields` values; each is then written with one of the methods below, in column order. */
  row(fields: number): this {
    this.ensure(2);
    const p = this.page;
    p[this.at] = fields >>> 8;
    p[this.at + 1] = fields & 0xff;
    this.at += 2;
    this.rows++;
    return this;
  }

  int4(value: number): this {
    this.ensure(8);
    putInt32(this.page, this.at, 4);
    putInt32(this.page, this.at + 4, value);
    this.at += 8;
    return this;
  }

  /** An int8 value (a safe integer, >= 0). */
  int8(value: number): this {
    this.ensure(12);
    putInt32(this.page, this.at, 8);
    writeInt8(this.page, this.at + 4, value);
    this.at += 12;
    return this;
  }

  /**
   * An int8 to be filled in later with `writeInt8(page, offset, value)`: op ids are only known once
   * the batch holds the op id counter, after its rows were encoded. Returns the offset; `page`
   * is the buffer it is in.
   */
  int8Slot(): number {
    this.ensure(12);
    putInt32(this.page, this.at, 8);
    this.at += 12;
    return this.at - 8;
  }

  /** The buffer the last value was written to. */
  get currentPage(): Buffer {
    return this.page;
  }

  /** Where the next byte goes in `currentPage`. */
  get offset(): number {
    return this.at;
  }

  /** Makes sure the next `bytes` bytes go into one page (a row written after it does not span two). */
  reserve(bytes: number): this {
    this.ensure(bytes);
    return this;
  }

  /** The COPY header's length: the signature, flags and header extension length. */
  static readonly HEADER_BYTES = 19;

  /** A text value (also right for json). */
  text(value: string): this {
    const n = value.length;
    this.ensure(4 + n * 3);
    const page = this.page;
    const start = this.at + 4;
    let length = -1;
    if (n <= SHORT) {
      // Ids, bucket names, table names: copying ASCII by hand beats Buffer#write's call overhead.
      let i = 0;
      for (; i < n; i++) {
        const c = value.charCodeAt(i);
        if (c > 0x7f) break;
        page[start + i] = c;
      }
      if (i === n) length = n;
    }
    if (length < 0) length = writeUtf8(page, value, start);
    putInt32(page, this.at, length);
    this.lastValueAt = start;
    this.at = start + length;
    return this;
  }

  /** A text value; returns its UTF-8 bytes as written (a view into the page, valid until the page is recycled). */
  textBytes(value: string): Buffer {
    this.text(value);
    return this.page.subarray(this.lastValueAt, this.at);
  }

  /** A text value already encoded as UTF-8 (strings written in every row are encoded once). */
  bytes(value: Buffer): this {
    this.ensure(4 + value.length);
    putInt32(this.page, this.at, value.length);
    value.copy(this.page, this.at + 4);
    this.at += 4 + value.length;
    return this;
  }

  textOrNull(value: string | null): this {
    return value === null ? this.null() : this.text(value);
  }

  /** A jsonb value from JSON text (jsonb's binary format is a version byte, then the text). */
  jsonb(json: string): this {
    this.ensure(5 + json.length * 3);
    this.page[this.at + 4] = 1;
    const length = writeUtf8(this.page, json, this.at + 5) + 1;
    putInt32(this.page, this.at, length);
    this.at += 4 + length;
    return this;
  }

  null(): this {
    this.ensure(4);
    putInt32(this.page, this.at, -1);
    this.at += 4;
    return this;
  }

  /** The encoded rows with COPY's trailer. The writer takes no more rows after this. */
  finish(): Buffer[] {
    if (this.finished) return this.finished;
    this.ensure(2);
    this.page[this.at] = 0xff;
    this.page[this.at + 1] = 0xff;
    this.at += 2;
    this.full.push(this.page.subarray(0, this.at));
    this.finished = this.full;
    return this.full;
  }

  /** Hands the pages back for reuse. Only once Postgres has consumed them: COPY returned. */
  recycle(): void {
    for (const view of this.finished ?? []) {
      if (view.buffer.byteLength === PAGE && spare.length < MAX_SPARE) spare.push(Buffer.from(view.buffer, view.byteOffset, PAGE));
    }
    this.finished = [];
  }

  private ensure(bytes: number): void {
    if (this.at + bytes <= this.page.length) return;
    this.full.push(this.page.subarray(0, this.at));
    this.page = newPage(bytes);
    this.at = 0;
  }
}

function putInt32(page: Buffer, at: number, value: number): void {
  page[at] = value >>> 24;
  page[at + 1] = (value >>> 16) & 0xff;
  page[at + 2] = (value >>> 8) & 0xff;
  page[at + 3] = value & 0xff;
}

/** Writes a safe integer >= 0 as a big-endian int8 (without BigInt: op ids and checksums are < 2^53). */
export function writeInt8(page: Buffer, offset: number, value: number): void {
  putInt32(page, offset, Math.floor(value / 4294967296));
  putInt32(page, offset + 4, value >>> 0);
}
