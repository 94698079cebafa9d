import http from 'node:http';
import { crc32 } from 'node:zlib';
import { parseSyncLine, type BucketChecksum, type StreamRequestInput, type SyncLine } from '@/lib/sync/protocol';

/**
 * A raw HTTP client for the sync stream, written from docs/protocol.md alone (it does not use the
 * server's code): it parses every line against the protocol schemas and keeps a replica whose
 * checksums it recomputes with zlib's CRC-32.
 */

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json(): unknown;
}

/** One request, the whole answer buffered (for the JSON endpoints and refused streams). */
export function request(url: string, options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) as unknown });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** An open stream: lines as they arrive. */
export class StreamClient {
  readonly lines: SyncLine[] = [];
  status = 0;
  ended = false;
  private buffer = '';
  private cursor = 0;
  private waiter: (() => void) | undefined;
  private req!: http.ClientRequest;
  private res: http.IncomingMessage | undefined;
  readonly opened: Promise<void>;
  readonly finished: Promise<void>;
  private finish!: () => void;

  constructor(url: string, token: string | null, body: StreamRequestInput | string) {
    this.finished = new Promise((resolve) => (this.finish = resolve));
    this.opened = new Promise((resolve, reject) => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (token !== null) headers.authorization = `Bearer ${token}`;
      this.req = http.request(url, { method: 'POST', headers, agent: false }, (res) => {
        this.res = res;
        this.status = res.statusCode ?? 0;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => this.receive(chunk));
        res.on('end', () => this.end());
        res.on('error', () => this.end());
        res.on('close', () => this.end());
        resolve();
      });
      this.req.on('error', (error) => {
        this.end();
        reject(error);
      });
      this.req.end(typeof body === 'string' ? body : JSON.stringify(body));
    });
  }

  private receive(chunk: string): void {
    this.buffer += chunk;
    let newline: number;
    while ((newline = this.buffer.indexOf('\n')) >= 0) {
      const text = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + 1);
      this.lines.push(parseSyncLine(text));
    }
    this.notify();
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.notify();
    this.finish();
  }

  private notify(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  /** The next unread line matching `match` (lines before it are skipped); throws on timeout or end. */
  async next<T extends SyncLine['type']>(type?: T, timeoutMs = 10_000): Promise<Extract<SyncLine, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.cursor < this.lines.length) {
        const line = this.lines[this.cursor++]!;
        if (type === undefined || line.type === type) return line as Extract<SyncLine, { type: T }>;
      }
      if (this.ended) throw new Error(`stream ended before a ${type ?? 'line'} (status ${this.status})`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${type ?? 'line'} within ${timeoutMs} ms; got ${this.lines.slice(-5).map((l) => l.type).join(', ')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Lines read by next() so far are consumed; this returns those not yet consumed. */
  unread(): SyncLine[] {
    return this.lines.slice(this.cursor);
  }

  /** Stops reading without closing: the server must hold back (backpressure). */
  pause(): void {
    this.res?.pause();
  }

  resume(): void {
    this.res?.resume();
  }

  /** Drops the connection, as a closed tab does. */
  close(): void {
    this.req.destroy();
    this.res?.destroy();
  }
}

/** Recomputes an op's checksum from its fields, as docs/protocol.md#checksums defines it. */
export function recomputeChecksum(op: string, table: string, rowId: string, data: string | null): number {
  return crc32(Buffer.from(`${op}\n${table}\n${rowId}\n${data ?? ''}`, 'utf8'));
}

interface LocalBucket {
  rows: Map<string, string>;
  checksum: number;
  position: bigint;
}

/**
 * A client's local state, applied line by line by the rules of docs/protocol.md. Throws when the
 * server breaks them: a checksum that does not add up, a data line for a bucket not in the
 * checkpoint, a completion before the data.
 */
export class Replica {
  readonly buckets = new Map<string, LocalBucket>();
  target = new Map<string, BucketChecksum>();
  lastOpId = '0';
  writeCheckpoint: string | null = null;
  rulesVersion: string | undefined;
  completed = 0;

  apply(line: SyncLine): void {
    switch (line.type) {
      case 'checkpoint':
        if (this.rulesVersion !== undefined && line.rules_version !== this.rulesVersion) this.buckets.clear();
        this.rulesVersion = line.rules_version;
        this.target = new Map(line.buckets.map((b) => [b.bucket, b]));
        this.lastOpId = line.last_op_id;
        this.writeCheckpoint = line.write_checkpoint;
        for (const bucket of this.buckets.keys()) if (!this.target.has(bucket)) this.buckets.delete(bucket);
        break;
      case 'checkpoint_diff':
        for (const bucket of line.removed_buckets) {
          this.target.delete(bucket);
          this.buckets.delete(bucket);
        }
        for (const b of line.updated_buckets) this.target.set(b.bucket, b);
        this.lastOpId = line.last_op_id;
        this.writeCheckpoint = line.write_checkpoint;
        break;
      case 'data': {
        if (!this.target.has(line.bucket)) throw new Error(`data for ${line.bucket}, which is not in the checkpoint`);
        let bucket = this.buckets.get(line.bucket);
        if (!bucket || BigInt(line.after) < bucket.position) this.buckets.set(line.bucket, (bucket = { rows: new Map(), checksum: 0, position: 0n }));
        for (const op of line.ops) {
          if (op.op === 'PUT' || op.op === 'REMOVE') {
            const expected = recomputeChecksum(op.op, op.table!, op.row_id!, op.data);
            if (expected !== op.checksum) throw new Error(`op ${op.op_id} checksum ${op.checksum} != recomputed ${expected}`);
          }
          if (op.op === 'PUT') bucket.rows.set(`${op.table}/${op.row_id}`, op.data!);
          else if (op.op === 'REMOVE') bucket.rows.delete(`${op.table}/${op.row_id}`);
          if (op.op === 'CLEAR') {
            bucket.rows.clear();
            bucket.checksum = op.checksum;
          } else {
            bucket.checksum = (bucket.checksum + op.checksum) >>> 0;
          }
        }
        bucket.position = BigInt(line.next_after);
        break;
      }
      case 'partial_checkpoint_complete':
        this.verify((b) => b.priority <= line.priority);
        break;
      case 'checkpoint_complete':
        this.verify(() => true);
        this.completed++;
        break;
      default:
        break;
    }
  }

  private verify(which: (b: BucketChecksum) => boolean): void {
    for (const b of this.target.values()) {
      if (!which(b)) continue;
      const local = this.buckets.get(b.bucket)?.checksum ?? 0;
      if (local !== b.checksum) throw new Error(`bucket ${b.bucket}: local checksum ${local} != checkpoint ${b.checksum}`);
    }
  }

  /** Resume positions for a new stream request. */
  positions(): Array<{ name: string; after: string }> {
    return [...this.buckets].map(([name, b]) => ({ name, after: String(b.position) }));
  }

  /** bucket → `${table}/${rowId}` → data, like the replicator harness's BucketContents. */
  contents(): Record<string, Record<string, string>> {
    const out: Record<string, Record<string, string>> = {};
    for (const [name, b] of [...this.buckets].sort(([a], [c]) => (a < c ? -1 : 1))) {
      if (b.rows.size === 0) continue;
      out[name] = Object.fromEntries([...b.rows].sort(([a], [c]) => (a < c ? -1 : 1)));
    }
    return out;
  }
}
