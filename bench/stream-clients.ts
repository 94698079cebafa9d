/**
 * Raw HTTP clients of the sync stream for bench/stream.ts: node:http, no library, no code shared
 * with the server.
 */
import http from 'node:http';
import { StringDecoder } from 'node:string_decoder';

export interface InitialSync {
  ops: number;
  bytes: number;
  ms: number;
}

/**
 * Opens a stream, reads until the first checkpoint_complete and counts the ops received. With
 * `parse`, every line goes through JSON.parse as a real client's would; without, lines are only
 * framed (split at "\n") and ops counted from their text, which measures the server alone.
 */
export function initialSync(port: number, token: string, clientId: string, parse = true): Promise<InitialSync> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let ops = 0;
    let bytes = 0;
    // A line may span many chunks: keep its pieces and join them once, when its end arrives.
    let pieces: string[] = [];
    const onLine = (text: string): boolean => {
      const line = (parse ? JSON.parse(text) : { type: /^\{"type":"([a-z_]+)"/.exec(text)?.[1] }) as { type: string; ops?: unknown[] };
      if (line.type === 'data') ops += parse ? line.ops!.length : countOps(text);
      else if (line.type === 'checkpoint_complete') {
        resolve({ ops, bytes, ms: performance.now() - started });
        return true;
      } else if (line.type === 'error') reject(new Error(text));
      return false;
    };
    const req = http.request({ host: '127.0.0.1', port, path: '/api/sync/stream', method: 'POST', agent: false, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`stream answered ${res.statusCode}`));
      const decoder = new StringDecoder('utf8');
      res.on('data', (buffer: Buffer) => {
        bytes += buffer.length;
        const chunk = decoder.write(buffer);
        let start = 0;
        let end: number;
        while ((end = chunk.indexOf('\n', start)) >= 0) {
          pieces.push(chunk.slice(start, end));
          const text = pieces.length === 1 ? pieces[0]! : pieces.join('');
          pieces = [];
          start = end + 1;
          if (onLine(text)) return void req.destroy();
        }
        if (start < chunk.length) pieces.push(chunk.slice(start));
      });
    });
    req.on('error', (error) => {
      if (!req.destroyed) reject(error);
    });
    req.end(JSON.stringify({ client_id: clientId }));
  });
}

/** Ops in a data line's text: each op object starts with `{"op_id":`, which no escaped data can contain. */
function countOps(text: string): number {
  let n = 0;
  for (let i = text.indexOf('{"op_id":'); i >= 0; i = text.indexOf('{"op_id":', i + 9)) n++;
  return n;
}

/**
 * A connected client waiting for marked rows: records when each marker (`<prefix><n>`) first
 * arrives in a data line. Scans complete lines as text, so 1,000 of them in one process stay cheap.
 */
export class MarkerClient {
  readonly seen = new Map<number, number>();
  completed = false;
  private rest = '';
  private req: http.ClientRequest | undefined;
  private onComplete: (() => void) | undefined;

  constructor(private readonly pattern: RegExp) {}

  open(port: number, token: string, clientId: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.onComplete = resolve;
      this.req = http.request({ host: '127.0.0.1', port, path: '/api/sync/stream', method: 'POST', agent: false, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } }, (res) => {
        if (res.statusCode !== 200) return reject(new Error(`stream answered ${res.statusCode}`));
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => this.receive(chunk));
      });
      this.req.on('error', (error) => {
        if (!this.completed) reject(error);
      });
      this.req.end(JSON.stringify({ client_id: clientId }));
    });
  }

  private receive(chunk: string): void {
    const now = performance.now();
    const end = chunk.lastIndexOf('\n');
    if (end < 0) {
      this.rest += chunk;
      return;
    }
    const text = this.rest + chunk.slice(0, end);
    this.rest = chunk.slice(end + 1);
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
    this.req?.destroy();
  }
}
