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

  constructor(private readonly rulesId: number) {}

  get count(): number {
    return this.offsets.length;
  }

  /**
   * Encodes an op and returns its checksum (opChecksum), computed over the UTF-8 just written
   * when Node has native CRC-32: the data, the bulk of the input, is then encoded once, not twice.
   */
  add(bucket: string, op: 'PUT' | 'REMOVE', table: string, rowId: string, data: string | null): number {
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
    return checksum;
  }

  /** The encoded ops, numbered from base + 1. */
  finish(base: number): Buffer[] {
    for (let i = 0; i < this.offsets.length; i++) writeInt8(this.pages[i]!, this.offsets[i]!, base + i + 1);
    return this.writer.finish();
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
