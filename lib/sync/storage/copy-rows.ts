import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { continueCrc32, opChecksumPrefix, storageOpChecksum } from './checksum';
import { BinaryCopyWriter, writeInt8 } from './copy-binary';
import type { CurrentRowUpsert } from './types';

/** Ops are written with COPY in binary format; op ids are filled in once the counter is taken. */
export const COPY_OPS = 'COPY lockstep.ops (rules_id, bucket, op_id, op, table_name, row_id, data, checksum) FROM STDIN (FORMAT binary)';
export const COPY_CURRENT_ROWS = 'COPY lockstep.current_rows (rules_id, table_name, row_id, buckets, source_values, values_hash) FROM STDIN (FORMAT binary)';

/**
 * A batch's ops encoded for COPY before the batch takes its op ids (so the encoding does not hold
 * the counter's lock): each op id is a placeholder until `finish(base)` numbers the ops
 * base + 1, base + 2, ... in the order they were added.
 */
export class OpsCopy {
  private readonly writer = new BinaryCopyWriter();
  private readonly pages: Buffer[] = [];
  private readonly offsets: number[] = [];
  /** With groupByBucket: each op's row (start and end in its page) and its bucket's index. */
  private readonly grouping: { starts: number[]; ends: number[]; bucketOf: number[]; buckets: Map<string, number> } | undefined;

  /**
   * `groupByBucket`: finish() numbers and writes the ops bucket by bucket (buckets in the order
   * they first appear, each bucket's ops in the order added), not in the order added, so that each
   * bucket's ops lie together in storage's heap. Only where the order of ops of different buckets
   * means nothing (a snapshot chunk, visible all at once).
   */
  constructor(
    private readonly rulesId: number,
    options: { groupByBucket?: boolean } = {},
  ) {
    this.grouping = options.groupByBucket ? { starts: [], ends: [], bucketOf: [], buckets: new Map() } : undefined;
  }

  get count(): number {
    return this.offsets.length;
  }

  /**
   * Encodes an op and returns its checksum (opChecksum), computed over the UTF-8 just written
   * when Node has native CRC-32: the data, the bulk of the input, is then encoded once, not twice.
   */
  add(bucket: string, op: 'PUT' | 'REMOVE', table: string, rowId: string, data: string | null): number {
    const grouping = this.grouping;
    if (grouping) {
      // The whole row in one page, so that finish() can move it as one piece: at most 3 bytes a
      // UTF-16 unit of text, 8 fields' headers and the fixed-width values.
      this.writer.reserve(2 + 8 + 12 + 12 + 6 * 4 + 3 * (bucket.length + op.length + table.length + rowId.length + (data?.length ?? 0)));
      grouping.starts.push(this.writer.offset);
      let index = grouping.buckets.get(bucket);
      if (index === undefined) grouping.buckets.set(bucket, (index = grouping.buckets.size));
      grouping.bucketOf.push(index);
    }
    const w = this.writer.row(8).int4(this.rulesId).text(bucket);
    this.offsets.push(w.int8Slot());
    this.pages.push(w.currentPage);
    w.text(op).text(table).text(rowId);
    const prefix = opChecksumPrefix(op, table, rowId);
    let checksum: number;
    if (data === null) {
      w.null();
      checksum = prefix ?? storageOpChecksum(op, table, rowId, null);
    } else {
      const bytes = w.textBytes(data);
      checksum = prefix === undefined ? storageOpChecksum(op, table, rowId, data) : continueCrc32(prefix, bytes);
    }
    w.int8(checksum);
    grouping?.ends.push(this.writer.offset);
    return checksum;
  }

  /**
   * The encoded ops, numbered from base + 1: in the order added, or with groupByBucket bucket by
   * bucket (then a bucket's last op is number base + the count of its ops and of the ops of the
   * buckets that first appeared before it).
   */
  finish(base: number): Buffer[] {
    const grouping = this.grouping;
    if (!grouping || grouping.buckets.size <= 1) {
      for (let i = 0; i < this.offsets.length; i++) writeInt8(this.pages[i]!, this.offsets[i]!, base + i + 1);
      return this.writer.finish();
    }
    // A counting sort by bucket index (stable: each bucket's ops stay in the order added).
    const n = this.offsets.length;
    const next = new Array<number>(grouping.buckets.size).fill(0);
    for (let i = 0; i < n; i++) next[grouping.bucketOf[i]!]!++;
    let bytes = BinaryCopyWriter.HEADER_BYTES + 2;
    for (let b = 0, at = 0; b < next.length; b++) {
      const count = next[b]!;
      next[b] = at;
      at += count;
    }
    const order = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      order[next[grouping.bucketOf[i]!]!++] = i;
      bytes += grouping.ends[i]! - grouping.starts[i]!;
    }
    const pages = this.writer.finish();
    const out = Buffer.allocUnsafe(bytes);
    pages[0]!.copy(out, 0, 0, BinaryCopyWriter.HEADER_BYTES);
    let at = BinaryCopyWriter.HEADER_BYTES;
    for (let rank = 0; rank < n; rank++) {
      const i = order[rank]!;
      writeInt8(this.pages[i]!, this.offsets[i]!, base + rank + 1);
      at += this.pages[i]!.copy(out, at, grouping.starts[i]!, grouping.ends[i]!);
    }
    out[at] = 0xff;
    out[at + 1] = 0xff;
    return [out];
  }

  /** Once COPY has returned: the buffers may be reused. */
  recycle(): void {
    this.writer.recycle();
  }
}

/** Current rows encoded for COPY (rows storage does not hold: COPY inserts, it never updates). */
export class CurrentRowsCopy {
  private readonly writer = new BinaryCopyWriter();
  private lastBucket: string | undefined;
  private lastBucketJson = '';

  constructor(private readonly rulesId: number) {}

  get count(): number {
    return this.writer.rowCount;
  }

  add(row: CurrentRowUpsert): void {
    const values = isEmpty(row.values) ? '{}' : JSON.stringify(row.values);
    this.writer.row(6).int4(this.rulesId).text(row.table).text(row.rowId).jsonb(this.bucketsJson(row.buckets)).text(values).textOrNull(row.valuesHash ?? null);
  }

  finish(): Buffer[] {
    return this.writer.finish();
  }

  recycle(): void {
    this.writer.recycle();
  }

  /** Rows of a table mostly share their buckets (all todos of a list): encode each list once. */
  private bucketsJson(buckets: string[]): string {
    if (buckets.length !== 1) return JSON.stringify(buckets);
    if (buckets[0] !== this.lastBucket) {
      this.lastBucket = buckets[0]!;
      this.lastBucketJson = JSON.stringify(buckets);
    }
    return this.lastBucketJson;
  }
}

function isEmpty(values: Record<string, unknown>): boolean {
  for (const _ in values) return false;
  return true;
}

/** Streams COPY FROM STDIN data on a client (inside the caller's transaction). */
export async function copyIn(client: pg.PoolClient, sql: string, buffers: Buffer[]): Promise<void> {
  await pipeline(Readable.from(buffers), client.query(copyFrom(sql)));
}
