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

/** Messages read while the COPY has the socket; any other goes back to node-postgres. */
function ours(code: number): boolean {
  return code === COPY_DATA || code === COPY_DONE || code === COPY_OUT_RESPONSE || code === NOTICE || code === PARAMETER_STATUS || code === NOTIFICATION;
}

function formatError(message: string): StorageError {
  return new StorageError(COPY_FORMAT_ERROR, `COPY output is not what was asked for: ${message}.`);
}

/**
 * Splits a binary COPY's byte stream, in chunks cut anywhere, into rows of `fields` columns. A row
 * that arrives whole inside a chunk is read in place; one cut across chunks is gathered first,
 * with one copy per field header it spans (so a 10 MB value in 64 KB chunks is joined once, not
 * once per chunk).
 */
/** Where a COPY's bytes go, in chunks cut anywhere: a row reader, or a byte counter. */
interface CopySink {
  push(chunk: Buffer, from?: number, to?: number): void;
  /** The COPY ended (CommandComplete); throws if its bytes were not complete. */
  finish(): void;
}

export class BinaryCopyReader implements CopySink {
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

  /** Reads chunk[from, to): the next bytes of the stream. */
  push(chunk: Buffer, from = 0, to = chunk.length): void {
    let at = from;
    let length = to;
    if (this.pendingBytes > 0) {
      // A copy, as in keep().
      const piece = Buffer.from(chunk.subarray(from, to));
      this.pending.push(piece);
      this.pendingBytes += piece.length;
      if (this.pendingBytes < this.needed) return;
      chunk = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
      at = 0;
      length = chunk.length;
    }
    if (!this.headerRead) {
      if (length - at < HEADER) return this.keep(chunk, at, length, HEADER);
      if (!chunk.subarray(at, at + SIGNATURE.length).equals(SIGNATURE)) throw formatError('it does not start with the binary format signature');
      const extension = chunk.readUInt32BE(at + SIGNATURE.length + 4);
      if (length - at < HEADER + extension) return this.keep(chunk, at, length, HEADER + extension);
      at += HEADER + extension;
      this.headerRead = true;
    }
    const { fields, row } = this;
    const { start, end } = row;
    row.bytes = chunk;
    while (at < length) {
      if (this.ended) throw formatError('it continues after its trailer');
      if (at + 2 > length) return this.keep(chunk, at, length, 2);
      const count = (chunk[at]! << 8) | chunk[at + 1]!;
      if (count === 0xffff) {
        this.ended = true;
        at += 2;
        continue;
      }
      if (count !== fields) throw formatError(`a row has ${count} fields, ${fields} expected`);
      let p = at + 2;
      for (let i = 0; i < fields; i++) {
        if (p + 4 > length) return this.keep(chunk, at, length, p + 4 - at);
        const size = chunk.readInt32BE(p);
        p += 4;
        if (size < 0) {
          start[i] = -1;
          end[i] = -1;
          continue;
        }
        if (p + size > length) return this.keep(chunk, at, length, p + size - at);
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

  /**
   * Keeps chunk[from, to) until at least `needed` bytes from `from` are at hand. A copy: the
   * caller's buffer may be reused once the call returns (node-postgres reuses its read buffer).
   */
  private keep(chunk: Buffer, from: number, to: number, needed: number): void {
    const rest = Buffer.from(chunk.subarray(from, to));
    this.pending = [rest];
    this.pendingBytes = rest.length;
    this.needed = needed;
  }
}

/** Protocol message types (https://www.postgresql.org/docs/current/protocol-message-formats.html). */
const COPY_OUT_RESPONSE = 0x48; // H
const COPY_DATA = 0x64; // d
const COPY_DONE = 0x63; // c
const NOTICE = 0x4e; // N
const PARAMETER_STATUS = 0x53; // S
const NOTIFICATION = 0x41; // A

interface PgConnection {
  stream: NodeJS.EventEmitter;
  query(text: string): void;
}

/**
 * A COPY TO STDOUT as a node-postgres submittable. While the COPY runs it reads the socket itself
 * (as pg-copy-streams does): CopyData payloads go from the socket's chunks straight to the row
 * reader, without a message object and a Buffer per row, or the copy node-postgres' parser makes
 * of what it has not consumed. At CopyDone (or at an error, or anything unexpected) it hands the
 * socket back, with the bytes from there on, and node-postgres reports the end of the statement:
 * CommandComplete, ErrorResponse, ReadyForQuery. One settle per query: the first of an error or
 * ReadyForQuery.
 */
class CopyOutQuery {
  private settled = false;
  private failure: unknown;
  private stream: NodeJS.EventEmitter | undefined;
  private pgOnData: ((chunk: Buffer) => void) | undefined;
  /** The current message: its type, and payload bytes still to come; -1 while reading a header. */
  private code = 0;
  private remaining = -1;
  /** A message header cut across socket chunks. */
  private readonly header = Buffer.alloc(5);
  private headerBytes = 0;

  constructor(
    private readonly text: string,
    private readonly reader: CopySink,
    private readonly done: (error: unknown) => void,
  ) {}

  submit(connection: PgConnection): void {
    const stream = connection.stream;
    const listeners = stream.listeners('data');
    // node-postgres parses from one 'data' listener; with anything else, its own messages (handleCopyData) are used.
    if (listeners.length === 1) {
      this.stream = stream;
      this.pgOnData = listeners[0] as (chunk: Buffer) => void;
      stream.removeListener('data', this.pgOnData);
      stream.on('data', this.onData);
    }
    connection.query(this.text);
  }

  private readonly onData = (chunk: Buffer): void => {
    const length = chunk.length;
    let at = 0;
    while (at < length) {
      if (this.remaining < 0) {
        let code: number;
        let size: number;
        if (this.headerBytes > 0 || length - at < 5) {
          const n = Math.min(5 - this.headerBytes, length - at);
          chunk.copy(this.header, this.headerBytes, at, at + n);
          this.headerBytes += n;
          at += n;
          if (this.headerBytes < 5) return;
          this.headerBytes = 0;
          code = this.header[0]!;
          size = this.header.readUInt32BE(1) - 4;
          if (!ours(code)) return this.handBack(Buffer.concat([this.header, chunk.subarray(at)]));
        } else {
          code = chunk[at]!;
          size = chunk.readUInt32BE(at + 1) - 4;
          if (!ours(code)) return this.handBack(chunk.subarray(at));
          at += 5;
        }
        if (code === COPY_DONE) return this.handBack(chunk.subarray(at + size));
        this.code = code;
        this.remaining = size;
        continue;
      }
      const n = Math.min(this.remaining, length - at);
      if (this.code === COPY_DATA && this.failure === undefined) {
        try {
          this.reader.push(chunk, at, at + n);
        } catch (error: unknown) {
          this.failure = error;
        }
      }
      at += n;
      this.remaining -= n;
      if (this.remaining === 0) this.remaining = -1;
    }
  };

  /** Gives the socket back to node-postgres, with the bytes it has not read yet. */
  private handBack(rest: Buffer): void {
    const stream = this.stream!;
    const pgOnData = this.pgOnData!;
    stream.removeListener('data', this.onData);
    stream.on('data', pgOnData);
    this.stream = this.pgOnData = undefined;
    if (rest.length > 0) pgOnData(rest);
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
export function copyOutBinary(pool: Pick<pg.Pool, 'connect'>, query: string, fields: number, onRow: (row: CopyRow) => void): Promise<number> {
  return withCopyClient(pool, (client) => copyOutBinaryOn(client, query, fields, onRow));
}

/** copyOutBinary on a client the caller holds (withCopyClient), for several COPYs in a row. */
export async function copyOutBinaryOn(client: pg.PoolClient, query: string, fields: number, onRow: (row: CopyRow) => void): Promise<number> {
  const reader = new BinaryCopyReader(fields, onRow);
  await runCopyOut(client, `COPY (${query}) TO STDOUT (FORMAT binary)`, reader);
  return reader.rows;
}

/**
 * Runs `COPY (query) TO STDOUT (FORMAT binary|text)` and hands its bytes on as they come off the
 * socket, with no work per row: the floor any reader of those rows pays (bench/stream.ts
 * measures the sync route against it). Resolves with the byte count.
 *
 * @example
 *   const bytes = await copyOutBytes(pool, 'SELECT data FROM lockstep.ops WHERE ...', 'binary', (chunk, from, to) => socket.write(chunk.subarray(from, to)));
 */
export async function copyOutBytes(pool: Pick<pg.Pool, 'connect'>, query: string, format: 'binary' | 'text', onBytes: (chunk: Buffer, from: number, to: number) => void): Promise<number> {
  let bytes = 0;
  const sink: CopySink = {
    push(chunk, from = 0, to = chunk.length) {
      bytes += to - from;
      onBytes(chunk, from, to);
    },
    finish() {},
  };
  await withCopyClient(pool, (client) => runCopyOut(client, `COPY (${query}) TO STDOUT (FORMAT ${format})`, sink));
  return bytes;
}

/**
 * Runs `fn` with a client of the pool. An error from the server leaves the connection sound, but
 * one that broke looks the same from here: after any failure the client is closed rather than
 * reused.
 */
export async function withCopyClient<T>(pool: Pick<pg.Pool, 'connect'>, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let failure: unknown = null;
  try {
    return await fn(client);
  } catch (error: unknown) {
    failure = error;
    throw error;
  } finally {
    client.release(failure === null ? undefined : failure instanceof Error ? failure : true);
  }
}

function runCopyOut(client: pg.PoolClient, statement: string, sink: CopySink): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const copy = new CopyOutQuery(statement, sink, (error) => (error === null ? resolve() : reject(error)));
    client.query(copy as unknown as pg.Submittable);
  });
}
