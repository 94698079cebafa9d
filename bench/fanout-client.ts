/**
 * The many idle clients of bench/stream.ts part 3 (commit → line with 1,000 and more connected):
 * raw TCP clients of the sync stream that note when each marked row first arrives on their socket.
 * They run in the benchmark's process, on the same 2 cores as the server, and one event loop reads
 * all of them in turn: what each costs delays the time noted for the next, so they do as little as
 * a client can. Reads go straight into one buffer shared by every client (net's `onread`, no
 * Readable stream, no 'data' event, no copy), and markers are found in the bytes as they come.
 * The chunked framing is not decoded: the server writes whole lines per HTTP chunk, so a chunk's
 * size line never falls inside a marker; a marker split between two reads is found by keeping the
 * unfinished line's bytes until its end arrives.
 */
import net from 'node:net';

/** One read buffer for every client: each read is scanned before the next one lands in it. */
const SHARED_READ = Buffer.allocUnsafe(256 * 1024);
const NEWLINE = 10;
const COMPLETE = Buffer.from('"checkpoint_complete"');
const MARK_END = Buffer.from('-mark');
const STATUS_OK = Buffer.from('HTTP/1.1 200 ');

/**
 * A connected client waiting for rows whose text holds `<prefix><n>-mark`: records when each
 * marker `n` first arrives. open() resolves after its first checkpoint_complete.
 */
export class FanoutClient {
  readonly seen = new Map<number, number>();
  completed = false;
  private socket: net.Socket | undefined;
  private closed = false;
  private headDone = false;
  /** Bytes after the last newline of earlier reads (an unfinished line), copied out of the shared buffer. */
  private rest: Buffer | undefined;
  private readonly prefixes: Buffer[];

  constructor(prefixes: string[]) {
    this.prefixes = prefixes.map((p) => Buffer.from(p));
  }

  open(port: number, token: string, clientId: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const fail = (error: Error) => {
        if (this.closed) return;
        this.close();
        if (!this.completed) reject(error);
        else console.error(`fan-out client ${clientId}: ${error.message}`);
      };
      const body = JSON.stringify({ client_id: clientId });
      const socket = net.connect({
        host: '127.0.0.1',
        port,
        noDelay: true,
        onread: {
          buffer: SHARED_READ,
          callback: (size: number, buffer: Uint8Array) => {
            const error = this.receive(buffer as Buffer, size, resolve);
            if (error) fail(error);
            return true;
          },
        },
      });
      this.socket = socket;
      socket.on('connect', () => {
        socket.write(
          `POST /api/sync/stream HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
      });
      socket.on('error', (error) => fail(error));
      socket.on('close', () => fail(new Error('the server closed the stream')));
    });
  }

  close(): void {
    this.closed = true;
    this.socket?.destroy();
  }

  /** Scans one read; returns an error when the response is not a 200. */
  private receive(read: Buffer, size: number, onComplete: () => void): Error | undefined {
    const now = performance.now();
    let bytes = read.subarray(0, size);
    if (!this.headDone) {
      // The status line comes whole in the first read (it is far shorter than any read).
      if (bytes.compare(STATUS_OK, 0, STATUS_OK.length, 0, Math.min(size, STATUS_OK.length)) !== 0) return new Error(`stream answered ${bytes.toString('latin1', 0, Math.min(size, 200)).split('\r\n')[0]}`);
      this.headDone = true;
    }
    const end = bytes.lastIndexOf(NEWLINE);
    if (this.rest) {
      bytes = Buffer.concat([this.rest, bytes]);
      this.rest = undefined;
    }
    const lineEnd = end < 0 ? -1 : bytes.length - (size - end);
    // What follows the last newline: kept (copied) unless it is only a chunk's trailing CR.
    const after = bytes.subarray(lineEnd + 1);
    if (after.length > 1 || (after.length === 1 && after[0] !== 13)) this.rest = Buffer.from(after);
    if (lineEnd < 0) return undefined;
    const lines = bytes.subarray(0, lineEnd);
    if (!this.completed && lines.indexOf(COMPLETE) >= 0) {
      this.completed = true;
      onComplete();
    }
    for (const prefix of this.prefixes) {
      for (let at = lines.indexOf(prefix); at >= 0; at = lines.indexOf(prefix, at + prefix.length)) {
        let n = 0;
        let i = at + prefix.length;
        const digits = i;
        for (; i < lines.length && lines[i]! >= 48 && lines[i]! <= 57; i++) n = n * 10 + (lines[i]! - 48);
        if (i === digits || lines.compare(MARK_END, 0, MARK_END.length, i, i + MARK_END.length) !== 0) continue;
        if (!this.seen.has(n)) this.seen.set(n, now);
      }
    }
    return undefined;
  }
}
