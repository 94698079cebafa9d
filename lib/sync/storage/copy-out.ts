import type pg from 'pg';
import { StorageError } from '@/lib/sync/errors';

/**
 * Rows of a `COPY (...) TO STDOUT (FORMAT binary)`, handed over as the bytes Postgres sent
 * (https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4): no per-row objects, no
 * strings, no escaping to undo. What a reader would otherwise pay to turn each value into a JS
 * string (and the garbage collector to free it) is left to the caller, who may copy the bytes
 * straight into its output.
 */

/**
 * One row, valid only during the call that receives it (its buffer and arrays are reused): field i
 * is `bytes[start[i], end[i])`, or SQL NULL when `start[i]` is -1.
 */
export interface CopyRow {
  bytes: Buffer;
  start: Int32Array;
  end: Int32Array;
}

/** The 11-byte signature, then a 32-bit flags field and a 32-bit header extension length. */
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const HEADER = SIGNATURE.length + 8;

/**
 * Code of the StorageError thrown when a COPY's bytes are not the binary format with the expected
 * columns: a bug in the query or a broken connection, never something a client sent.
 */
export const COPY_FORMAT_ERROR = 'STORAGE_COPY_FORMAT';

function formatError(message: string): StorageError {
  return new StorageError(COPY_FORMAT_ERROR, `COPY output is not what was asked for: ${message}.`);
}

/**
 * Splits a binary COPY's byte stream, in chunks cut anywhere, into rows of `fields` columns. A row
 * that arrives whole inside a chunk is read in place; one cut across chunks is gathered first,
 * with one copy per field header it spans (so a 10 MB value in 64 KB chunks is joined once, not
 * once per chunk).
 */
export class BinaryCopyReader {
  private readonly row: CopyRow;
  /** Chunks holding the start of an unfinished row (or of the header), and their total size. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes needed before the unfinished row can be read further. */
  private needed = 0;
  private headerRead = false;
  private ended = false;
  private count = 0;

  constructor(
    private readonly fields: number,
    private readonly onRow: (row: CopyRow) => void,
  ) {
    this.row = { bytes: Buffer.alloc(0), start: new Int32Array(fields), end: new Int32Array(fields) };
  }

  push(chunk: Buffer): void {
    if (this.pendingBytes > 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes < this.needed) return;
      chunk = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
    }
    let at = 0;
    if (!this.headerRead) {
      if (chunk.length < HEADER) return this.keep(chunk, 0, HEADER);
      if (!chunk.subarray(0, SIGNATURE.length).equals(SIGNATURE)) throw formatError('it does not start with the binary format signature');
      const extension = chunk.readUInt32BE(SIGNATURE.length + 4);
      if (chunk.length < HEADER + extension) return this.keep(chunk, 0, HEADER + extension);
      at = HEADER + extension;
      this.headerRead = true;
    }
    const { fields, row } = this;
    const { start, end } = row;
    row.bytes = chunk;
    const length = chunk.length;
    while (at < length) {
      if (this.ended) throw formatError('it continues after its trailer');
      if (at + 2 > length) return this.keep(chunk, at, 2);
      const count = (chunk[at]! << 8) | chunk[at + 1]!;
      if (count === 0xffff) {
        this.ended = true;
        at += 2;
        continue;
      }
      if (count !== fields) throw formatError(`a row has ${count} fields, ${fields} expected`);
      let p = at + 2;
      for (let i = 0; i < fields; i++) {
        if (p + 4 > length) return this.keep(chunk, at, p + 4 - at);
        const size = chunk.readInt32BE(p);
        p += 4;
        if (size < 0) {
          start[i] = -1;
          end[i] = -1;
          continue;
        }
        if (p + size > length) return this.keep(chunk, at, p + size - at);
        start[i] = p;
        p += size;
        end[i] = p;
      }
      this.count++;
      this.onRow(row);
      at = p;
    }
  }

  /** Rows read so far. */
  get rows(): number {
    return this.count;
  }

  /** The stream ended: it must have ended with the trailer. */
  finish(): void {
    if (!this.ended || this.pendingBytes > 0) throw formatError(this.pendingBytes > 0 ? 'it ended in the middle of a row' : 'it ended without its trailer');
  }

  /** Keeps chunk[from..] until at least `needed` bytes from `from` are at hand. */
  private keep(chunk: Buffer, from: number, needed: number): void {
    const rest = chunk.subarray(from);
    this.pending = [rest];
    this.pendingBytes = rest.length;
    this.needed = needed;
  }
}

/**
 * A COPY TO STDOUT as a node-postgres submittable: node-postgres frames the protocol messages and
 * hands each CopyData payload here (a view of its read buffer, not a copy); the rows are read from
 * it in place. One settle per query: the first of an error or ReadyForQuery.
 */
class CopyOutQuery {
  private settled = false;
  private failure: unknown;

  constructor(
    private readonly text: string,
    private readonly reader: BinaryCopyReader,
    private readonly done: (error: unknown) => void,
  ) {}

  submit(connection: { query(text: string): void }): void {
    connection.query(this.text);
  }

  handleCopyData(message: { chunk: Buffer }): void {
    if (this.failure !== undefined) return;
    try {
      this.reader.push(message.chunk);
    } catch (error: unknown) {
      // The rest of the COPY still arrives and is dropped; the error is reported once it is over.
      this.failure = error;
    }
  }

  handleCommandComplete(): void {
    if (this.failure !== undefined) return;
    try {
      this.reader.finish();
    } catch (error: unknown) {
      this.failure = error;
    }
  }

  handleReadyForQuery(): void {
    this.settle(this.failure ?? null);
  }

  handleError(error: unknown): void {
    this.settle(error);
  }

  // Not sent for a COPY TO; a server that did would have broken the protocol.
  handleRowDescription(): void {
    this.failure ??= formatError('rows came instead of COPY data');
  }

  handleDataRow(): void {}

  handleEmptyQuery(): void {
    this.failure ??= formatError('the statement was empty');
  }

  handleCopyInResponse(connection: { sendCopyFail(message: string): void }): void {
    connection.sendCopyFail('lockstep reads with COPY TO STDOUT only');
  }

  handlePortalSuspended(): void {}

  private settle(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.done(error);
  }
}

/**
 * Runs `COPY (query) TO STDOUT (FORMAT binary)` on a client of the pool and hands each row to
 * `onRow` as it arrives; resolves with the row count once the COPY is done. The query cannot take
 * bind parameters: callers inline literals (checked integers, pg.escapeLiteral). If `onRow`
 * throws, the rest of the COPY is read and dropped (so the connection is never left mid-COPY) and
 * the error is rethrown.
 */
export async function copyOutBinary(pool: Pick<pg.Pool, 'connect'>, query: string, fields: number, onRow: (row: CopyRow) => void): Promise<number> {
  const client = await pool.connect();
  const reader = new BinaryCopyReader(fields, onRow);
  let failure: unknown = null;
  try {
    await new Promise<void>((resolve, reject) => {
      const copy = new CopyOutQuery(`COPY (${query}) TO STDOUT (FORMAT binary)`, reader, (error) => (error === null ? resolve() : reject(error)));
      client.query(copy as unknown as pg.Submittable);
    });
  } catch (error: unknown) {
    failure = error;
    throw error;
  } finally {
    // An error from the server leaves the connection sound, but one that broke looks the same
    // from here: after any failure the client is closed rather than reused.
    client.release(failure === null ? undefined : failure instanceof Error ? failure : true);
  }
  return reader.rows;
}
