/**
 * Raw HTTP clients of the sync stream for bench/stream.ts: a TCP socket, the request written by
 * hand and the chunked response decoded here; no library, no code shared with the server. They
 * share the machine's cores with the server, so they do as little as a client can: the latency
 * clients scan bytes for their markers, and the framed initial sync splits lines without
 * decoding them. bench/stream.ts reports what they cost (CPU of this process).
 */
import net from 'node:net';
import { StringDecoder } from 'node:string_decoder';

export interface InitialSync {
  ops: number;
  bytes: number;
  ms: number;
}

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * One POST /api/sync/stream over its own connection. `onBody` receives the response body as it
 * arrives, chunked transfer encoding removed.
 */
export class RawStream {
  private socket: net.Socket | undefined;
  private head: Buffer | undefined = Buffer.alloc(0);
  /** Bytes of the current chunk still to come; -1 while reading a chunk size line. */
  private chunkLeft = -1;
  private pending: Buffer = Buffer.alloc(0);
  private chunked = true;
  closed = false;

  constructor(
    private readonly onBody: (bytes: Buffer) => void,
    private readonly onFail: (error: Error) => void,
  ) {}

  /**
   * `readBuffer`: read the socket into this one buffer, reused for every read (net's `onread`),
   * instead of a new 64 KB buffer per read: fewer reads and no garbage for a client that takes
   * tens of megabytes. Every piece of it this class or onBody keeps is copied.
   */
  open(port: number, token: string, clientId: string, readBuffer?: Buffer): void {
    const body = JSON.stringify({ client_id: clientId });
    const socket = readBuffer
      ? net.connect({
          host: '127.0.0.1',
          port,
          noDelay: true,
          onread: {
            buffer: readBuffer,
            callback: (size) => {
              this.receive(readBuffer.subarray(0, size));
              return true;
            },
          },
        })
      : net.connect({ host: '127.0.0.1', port, noDelay: true });
    this.socket = socket;
    socket.on('connect', () => {
      socket.write(
        `POST /api/sync/stream HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    });
    socket.on('data', (bytes: Buffer) => this.receive(bytes));
    socket.on('error', (error) => {
      if (!this.closed) this.onFail(error);
    });
    socket.on('close', () => {
      if (!this.closed) this.onFail(new Error('the server closed the stream'));
    });
  }

  close(): void {
    this.closed = true;
    this.socket?.destroy();
  }

  private receive(bytes: Buffer): void {
    if (this.head) {
      const all = this.head.length > 0 ? Buffer.concat([this.head, bytes]) : bytes;
      const end = all.indexOf(HEAD_END);
      if (end < 0) {
        this.head = Buffer.from(all);
        return;
      }
      const head = all.subarray(0, end).toString('latin1');
      this.head = undefined;
      if (!head.startsWith('HTTP/1.1 200')) return this.fail(new Error(`stream answered ${head.split('\r\n')[0]}`));
      // Without chunked encoding the body runs until the connection closes.
      this.chunked = /\r\ntransfer-encoding: chunked/i.test(head);
      bytes = all.subarray(end + 4);
    }
    if (this.chunked) this.dechunk(bytes);
    else if (bytes.length > 0) this.onBody(bytes);
  }

  private dechunk(bytes: Buffer): void {
    let at = 0;
    if (this.pending.length > 0) {
      bytes = Buffer.concat([this.pending, bytes]);
      this.pending = Buffer.alloc(0);
    }
    while (at < bytes.length) {
      if (this.chunkLeft < 0) {
        const eol = bytes.indexOf(CRLF, at);
        if (eol < 0) {
          this.pending = Buffer.from(bytes.subarray(at));
          return;
        }
        const size = parseInt(bytes.toString('latin1', at, eol), 16);
        if (!Number.isFinite(size)) return this.fail(new Error('bad chunk size line'));
        at = eol + 2;
        if (size === 0) return this.fail(new Error('the server ended the stream'));
        this.chunkLeft = size;
      }
      const take = Math.min(this.chunkLeft, bytes.length - at);
      if (take > 0) this.onBody(bytes.subarray(at, at + take));
      at += take;
      this.chunkLeft -= take;
      if (this.chunkLeft > 0) return;
      // The chunk's trailing CRLF.
      if (bytes.length - at < 2) {
        this.pending = Buffer.from(bytes.subarray(at));
        this.chunkLeft = 0;
        return;
      }
      at += 2;
      this.chunkLeft = -1;
    }
  }

  private fail(error: Error): void {
    if (this.closed) return;
    this.close();
    this.onFail(error);
  }
}

const OP_START = Buffer.from('{"op_id":');
const TYPE_PREFIX = '{"type":"';

/**
 * Opens a stream, reads until the first checkpoint_complete and counts the ops received. With
 * `parse`, every line is decoded and goes through JSON.parse as a real client's would; without,
 * lines are only framed (split at "\n" in the bytes) and ops counted in the bytes, which measures
 * the server alone.
 */
export function initialSync(port: number, token: string, clientId: string, parse = true): Promise<InitialSync> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let ops = 0;
    let bytes = 0;
    let done = false;
    const finish = () => {
      done = true;
      stream.close();
      resolve({ ops, bytes, ms: performance.now() - started });
    };
    const onType = (type: string | undefined, text: () => string) => {
      if (type === 'checkpoint_complete') finish();
      else if (type === 'error') {
        done = true;
        stream.close();
        reject(new Error(text()));
      }
    };
    let onBody: (chunk: Buffer) => void;
    if (parse) {
      const decoder = new StringDecoder('utf8');
      // A line may span many chunks: keep its pieces and join them once, when its end arrives.
      let pieces: string[] = [];
      onBody = (chunk) => {
        bytes += chunk.length;
        const text = decoder.write(chunk);
        let start = 0;
        let end: number;
        while (!done && (end = text.indexOf('\n', start)) >= 0) {
          pieces.push(text.slice(start, end));
          const line = JSON.parse(pieces.length === 1 ? pieces[0]! : pieces.join('')) as { type: string; ops?: unknown[] };
          pieces = [];
          start = end + 1;
          if (line.type === 'data') ops += line.ops!.length;
          else onType(line.type, () => JSON.stringify(line));
        }
        if (start < text.length) pieces.push(text.slice(start));
      };
    } else {
      // The start of the current line (for its type), and the tail of the previous chunk, so that
      // an op's opening split over two chunks still counts once.
      let lineStart: Buffer = Buffer.alloc(0);
      let tail: Buffer = Buffer.alloc(0);
      onBody = (chunk) => {
        bytes += chunk.length;
        let start = 0;
        while (!done && start < chunk.length) {
          const end = chunk.indexOf(10, start);
          const piece = chunk.subarray(start, end < 0 ? chunk.length : end);
          if (lineStart.length < 40) lineStart = Buffer.concat([lineStart, piece.subarray(0, 40)]);
          ops += countOps(tail, piece);
          // A copy: the chunk's buffer is reused by the next read.
          tail = piece.length >= OP_START.length ? Buffer.from(piece.subarray(piece.length - OP_START.length + 1)) : Buffer.concat([tail, piece]).subarray(-(OP_START.length - 1));
          if (end < 0) break;
          const head = lineStart.toString('latin1');
          const type = head.startsWith(TYPE_PREFIX) ? head.slice(TYPE_PREFIX.length, head.indexOf('"', TYPE_PREFIX.length)) : undefined;
          onType(type, () => head);
          lineStart = Buffer.alloc(0);
          tail = Buffer.alloc(0);
          start = end + 1;
        }
      };
    }
    const stream = new RawStream(
      (chunk) => onBody(chunk),
      (error) => {
        if (!done) reject(error);
      },
    );
    stream.open(port, token, clientId, Buffer.allocUnsafe(READ_BUFFER_BYTES));
  });
}

/** What the initial sync client reads the socket into (RawStream.open). */
const READ_BUFFER_BYTES = 1024 * 1024;

/** Op objects in `piece`, and one whose opening `{"op_id":` starts in `before` (the previous piece's last bytes) and ends in `piece`. */
function countOps(before: Buffer, piece: Buffer): number {
  let n = 0;
  if (before.length > 0) {
    const seam = Buffer.concat([before, piece.subarray(0, OP_START.length - 1)]);
    const at = seam.indexOf(OP_START);
    if (at >= 0 && at < before.length && at + OP_START.length > before.length) n++;
  }
  for (let i = piece.indexOf(OP_START); i >= 0; i = piece.indexOf(OP_START, i + OP_START.length)) n++;
  return n;
}

/**
 * A connected client waiting for marked rows: records when each marker (`<prefix><n>`) first
 * arrives in a data line. Scans the bytes of complete lines (as Latin-1 text, which leaves the
 * ASCII markers intact), so 1,000 of them in one process stay cheap.
 */
export class MarkerClient {
  readonly seen = new Map<number, number>();
  completed = false;
  private rest: Buffer = Buffer.alloc(0);
  private stream: RawStream | undefined;
  private onComplete: (() => void) | undefined;

  constructor(private readonly pattern: RegExp) {}

  open(port: number, token: string, clientId: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.onComplete = resolve;
      this.stream = new RawStream(
        (bytes) => this.receive(bytes),
        (error) => {
          if (!this.completed) reject(error);
        },
      );
      this.stream.open(port, token, clientId);
    });
  }

  private receive(chunk: Buffer): void {
    const now = performance.now();
    const end = chunk.lastIndexOf(10);
    if (end < 0) {
      this.rest = Buffer.concat([this.rest, chunk]);
      return;
    }
    const lines = this.rest.length > 0 ? Buffer.concat([this.rest, chunk.subarray(0, end)]) : chunk.subarray(0, end);
    this.rest = Buffer.from(chunk.subarray(end + 1));
    const text = lines.toString('latin1');
    if (!this.completed && text.includes('"checkpoint_complete"')) {
      this.completed = true;
      this.onComplete?.();
    }
    for (const match of text.matchAll(this.pattern)) {
      const n = Number(match[1]);
      if (!this.seen.has(n)) this.seen.set(n, now);
    }
  }

  close(): void {
    this.stream?.close();
  }
}
