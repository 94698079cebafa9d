import { addChecksums, opChecksum, type BucketChecksum, type StreamRequestInput, type SyncLine, type WireOp } from '@/lib/sync/protocol';

/**
 * A small in-memory sync server for property tests, written from docs/protocol.md and
 * docs/storage.md: bucket op logs with global op ids, checkpoints, compaction (MOVE and CLEAR),
 * grants that change, rules versions that restart every bucket, and streams that resume from the
 * client's positions. It keeps, for every checkpoint, what a client must show at it.
 */

type Op = WireOp;

interface Bucket {
  ops: Op[];
  /** Current rows: `${table}\u0000${rowId}` → data. */
  rows: Map<string, string>;
  priority: number;
}

export interface ModelCheckpoint {
  opId: number;
  rulesVersion: string;
  buckets: string[];
}

/** What a client holding `buckets` at a checkpoint shows: `${table}/${rowId}` → data, sorted. */
export type Contents = Record<string, string>;

export class ModelServer {
  private nextOpId = 1;
  private version = 1;
  private buckets = new Map<string, Bucket>();
  /** Source rows: key → { data, buckets it is in }. */
  private source = new Map<string, { data: string; in: Set<string> }>();
  granted = new Set<string>();
  readonly checkpoints: ModelCheckpoint[] = [];
  /** Expected client contents per checkpoint op id. */
  readonly expected = new Map<number, Contents>();

  constructor(readonly bucketNames: readonly string[]) {
    for (const [i, name] of bucketNames.entries()) this.buckets.set(name, { ops: [], rows: new Map(), priority: i % 2 });
  }

  get rulesVersion(): string {
    return `v${this.version}`;
  }

  get latest(): ModelCheckpoint | undefined {
    return this.checkpoints[this.checkpoints.length - 1];
  }

  private append(bucket: string, op: Omit<Op, 'op_id' | 'checksum'>): void {
    const b = this.buckets.get(bucket)!;
    const checksum = op.op === 'PUT' || op.op === 'REMOVE' ? opChecksum(op.op, op.table!, op.row_id!, op.data) : 0;
    b.ops.push({ ...op, op_id: String(this.nextOpId++), checksum });
    const key = `${op.table}\u0000${op.row_id}`;
    if (op.op === 'PUT') b.rows.set(key, op.data!);
    else if (op.op === 'REMOVE') b.rows.delete(key);
  }

  /** One source transaction: the row gets `data` (null: deleted) and sits in `inBuckets`. */
  write(table: string, rowId: string, data: string | null, inBuckets: readonly string[]): void {
    const key = `${table}\u0000${rowId}`;
    const before = this.source.get(key);
    const now = data === null ? new Set<string>() : new Set(inBuckets);
    for (const bucket of before?.in ?? []) if (!now.has(bucket)) this.append(bucket, { op: 'REMOVE', table, row_id: rowId, data: null });
    for (const bucket of now) this.append(bucket, { op: 'PUT', table, row_id: rowId, data: data! });
    if (data === null) this.source.delete(key);
    else this.source.set(key, { data, in: now });
  }

  /** Commits a checkpoint at the newest op id (if there is a newer one, or the grants changed). */
  checkpoint(): void {
    const opId = this.nextOpId - 1;
    const buckets = [...this.granted].sort();
    const last = this.latest;
    if (last && last.opId === opId && last.rulesVersion === this.rulesVersion && last.buckets.join() === buckets.join()) return;
    if (last && last.opId === opId) {
      // Only the grants changed: in the real system a parameter row changed, which is an op.
      this.append(this.bucketNames[0]!, { op: 'MOVE', table: null, row_id: null, data: null });
      this.buckets.get(this.bucketNames[0]!)!.ops.at(-1)!.checksum = 7;
      return this.checkpoint();
    }
    this.checkpoints.push({ opId, rulesVersion: this.rulesVersion, buckets });
    const contents = new Map<string, string>();
    for (const name of buckets) for (const [key, data] of this.buckets.get(name)!.rows) contents.set(key.replace('\u0000', '/'), data);
    this.expected.set(opId, Object.fromEntries([...contents].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
  }

  /**
   * Compaction up to the latest checkpoint (docs/storage.md#compaction): superseded PUT/REMOVE
   * become MOVE; everything before a bucket's first live PUT becomes one CLEAR.
   */
  compact(): void {
    const bound = this.latest?.opId ?? 0;
    for (const b of this.buckets.values()) {
      const lastByRow = new Map<string, number>();
      b.ops.forEach((op, i) => {
        if (Number(op.op_id) <= bound && (op.op === 'PUT' || op.op === 'REMOVE')) lastByRow.set(`${op.table}\u0000${op.row_id}`, i);
      });
      const ops = b.ops.map((op, i): Op => {
        if (Number(op.op_id) > bound || (op.op !== 'PUT' && op.op !== 'REMOVE')) return op;
        return lastByRow.get(`${op.table}\u0000${op.row_id}`) === i ? op : { op_id: op.op_id, op: 'MOVE', table: null, row_id: null, data: null, checksum: op.checksum };
      });
      let firstLive = ops.findIndex((op) => Number(op.op_id) > bound || op.op === 'PUT');
      if (firstLive < 0) firstLive = ops.length;
      if (firstLive >= 2 || (firstLive === 1 && ops[0]!.op !== 'CLEAR')) {
        const merged = ops.slice(0, firstLive);
        const clear: Op = { op_id: merged.at(-1)!.op_id, op: 'CLEAR', table: null, row_id: null, data: null, checksum: merged.reduce((s, op) => addChecksums(s, op.checksum), 0) };
        b.ops = [clear, ...ops.slice(firstLive)];
      } else {
        b.ops = ops;
      }
    }
  }

  /** New sync rules: every bucket restarts with fresh op ids (as a new rules version's snapshot does). */
  newRulesVersion(): void {
    this.version++;
    for (const b of this.buckets.values()) {
      b.ops = [];
      b.rows = new Map();
    }
    for (const [key, row] of this.source) {
      const [table, rowId] = key.split('\u0000') as [string, string];
      for (const bucket of row.in) this.append(bucket, { op: 'PUT', table, row_id: rowId, data: row.data });
    }
    this.checkpoint();
  }

  /** The bucket's checksum and op count as of `opId`. */
  state(bucket: string, opId: number): BucketChecksum {
    const b = this.buckets.get(bucket)!;
    let checksum = 0;
    let count = 0;
    for (const op of b.ops) {
      if (Number(op.op_id) > opId) break;
      checksum = op.op === 'CLEAR' ? op.checksum : addChecksums(checksum, op.checksum);
      count++;
    }
    return { bucket, checksum, count, priority: b.priority };
  }

  opsBetween(bucket: string, after: number, upTo: number): Op[] {
    return this.buckets.get(bucket)!.ops.filter((op) => Number(op.op_id) > after && Number(op.op_id) <= upTo);
  }

  lastOpIdOf(bucket: string, upTo: number): number {
    let last = 0;
    for (const op of this.buckets.get(bucket)!.ops) if (Number(op.op_id) <= upTo) last = Number(op.op_id);
    return last;
  }

  open(request: StreamRequestInput, pageSize: number): ModelStream {
    return new ModelStream(this, request, pageSize);
  }
}

/** One stream: lines produced on demand, for the newest checkpoint each time the last one is sent. */
export class ModelStream {
  private queue: SyncLine[] = [];
  private held: Map<string, number> | null = null;
  private lastOpId = -1;
  private readonly rulesVersion: string;
  private ended = false;
  /** Corrupt the data of the next PUT sent (its checksum stays the original). */
  corruptNext = false;

  constructor(
    private readonly server: ModelServer,
    private readonly request: StreamRequestInput,
    private readonly pageSize: number,
  ) {
    this.rulesVersion = server.rulesVersion;
  }

  /** The next line, or undefined when there is nothing new (or the stream ended). */
  next(): SyncLine | undefined {
    if (this.ended) return undefined;
    if (this.server.rulesVersion !== this.rulesVersion) {
      this.ended = true;
      return { type: 'error', error: { code: 'SYNC_RULES_CHANGED', message: 'rules changed' } };
    }
    if (this.queue.length === 0) this.plan();
    const line = this.queue.shift();
    if (line?.type === 'data' && this.corruptNext) {
      const i = line.ops.findIndex((op) => op.op === 'PUT');
      if (i >= 0) {
        this.corruptNext = false;
        const ops = [...line.ops];
        ops[i] = { ...ops[i]!, data: `${ops[i]!.data} ` };
        return { ...line, ops };
      }
    }
    return line;
  }

  private plan(): void {
    const cp = this.server.latest;
    if (!cp || cp.opId <= this.lastOpId) return;
    const states = cp.buckets.map((b) => this.server.state(b, cp.opId));
    states.sort((a, b) => a.priority - b.priority || (a.bucket < b.bucket ? -1 : 1));
    const sends: Array<[string, number]> = [];
    if (this.held === null) {
      const valid = this.request.rules_version === undefined || this.request.rules_version === this.rulesVersion;
      const positions = new Map(valid ? (this.request.buckets ?? []).map((p) => [p.name, Number(p.after)]) : []);
      this.held = new Map();
      for (const s of states) {
        let position = positions.get(s.bucket) ?? 0;
        if (position > cp.opId) position = 0;
        if (this.server.lastOpIdOf(s.bucket, cp.opId) > position) sends.push([s.bucket, position]);
        this.held.set(s.bucket, Math.max(position, this.server.lastOpIdOf(s.bucket, cp.opId)));
      }
      this.queue.push({ type: 'checkpoint', last_op_id: String(cp.opId), write_checkpoint: null, rules_version: this.rulesVersion, buckets: states });
    } else {
      const removed = [...this.held.keys()].filter((b) => !cp.buckets.includes(b)).sort();
      const updated: BucketChecksum[] = [];
      for (const s of states) {
        const position = this.held.get(s.bucket);
        const last = this.server.lastOpIdOf(s.bucket, cp.opId);
        if (position === undefined || last > position) updated.push(s);
        if (last > (position ?? 0)) sends.push([s.bucket, position ?? 0]);
      }
      for (const b of removed) this.held.delete(b);
      for (const s of states) this.held.set(s.bucket, Math.max(this.held.get(s.bucket) ?? 0, this.server.lastOpIdOf(s.bucket, cp.opId)));
      this.queue.push({ type: 'checkpoint_diff', last_op_id: String(cp.opId), write_checkpoint: null, updated_buckets: updated, removed_buckets: removed });
    }
    for (const [bucket, after] of sends) {
      const ops = this.server.opsBetween(bucket, after, cp.opId);
      for (let i = 0; i < ops.length; i += this.pageSize) {
        const page = ops.slice(i, i + this.pageSize);
        const from = i === 0 ? after : Number(ops[i - 1]!.op_id);
        this.queue.push({ type: 'data', bucket, after: String(from), next_after: page.at(-1)!.op_id, has_more: i + this.pageSize < ops.length, ops: page });
      }
    }
    this.queue.push({ type: 'checkpoint_complete', last_op_id: String(cp.opId) });
    this.lastOpId = cp.opId;
  }
}
