import { addChecksums } from '@/lib/sync/protocol/checksum';
import { storageOpChecksum } from './checksum';
import { StorageErrorCode, storageError } from './errors';
import { assertLsn } from './sql';
import type { CommitBatch, CurrentRowUpsert, ParameterUpsert } from './types';

/**
 * A CommitBatch validated and turned into the column arrays the bulk statements expand (each is
 * sent as one JSON array). Kept free of I/O so its rules (validation, dedup, per-bucket totals)
 * are unit-tested on their own.
 */
export interface PreparedBatch {
  /** How many ops the batch has. */
  opCount: number;
  /**
   * Column arrays of the ops, in batch order; op ids are assigned as base + position (1-based).
   * Null when an OpSink took the ops (it encodes them itself: the arrays would only be garbage).
   */
  ops: { buckets: string[]; ops: string[]; tables: string[]; rowIds: string[]; data: Array<string | null>; checksums: number[] } | null;
  /** Per bucket touched: the 1-based position of its last op, and the sum and count of its ops. */
  buckets: { names: string[]; lastPositions: number[]; checksums: number[]; counts: number[] };
  rowUpserts: { tables: string[]; rowIds: string[]; buckets: string[][]; values: Array<Record<string, string | null>> };
  /** Parallel to rowUpserts: each row's valuesHash, or null. */
  rowHashes: Array<string | null>;
  /** Rows storage does not hold (CommitBatch's `currentRows.insert`), each key once. */
  rowInserts: CurrentRowUpsert[];
  rowDeletes: { tables: string[]; rowIds: string[] };
  paramUpserts: { lookups: string[]; tables: string[]; rowIds: string[]; values: string[][][] };
  paramDeletes: { tables: string[]; rowIds: string[] };
  /** Source tables whose stored rows / parameter entries all go (TRUNCATE). */
  truncate: { rowTables: string[]; paramTables: string[] };
  lsn: string | null;
  checkpoint: boolean;
  snapshotProgress: string | null;
}

function invalid(message: string, details?: Record<string, unknown>): Error {
  return storageError(StorageErrorCode.batchInvalid, `Invalid storage batch: ${message}`, { details });
}

// NUL separates the parts of composite keys: Postgres text can never contain it.
const key = (...parts: string[]) => parts.join('\u0000');

/** Takes each op as it is validated and returns its checksum (OpsCopy encodes and checksums in one pass). */
export interface OpSink {
  add(bucket: string, op: 'PUT' | 'REMOVE', table: string, rowId: string, data: string | null): number;
}

/** Validates `batch` and computes every op's checksum (with `sink`, as it takes them). Throws STORAGE_BATCH_INVALID on misuse. */
export function prepareBatch(batch: CommitBatch, sink?: OpSink): PreparedBatch {
  const n = batch.ops.length;
  const ops: PreparedBatch['ops'] = sink ? null : { buckets: new Array(n), ops: new Array(n), tables: new Array(n), rowIds: new Array(n), data: new Array(n), checksums: new Array(n) };
  const perBucket = new Map<string, { last: number; checksum: number; count: number }>();
  for (let i = 0; i < n; i++) {
    const op = batch.ops[i]!;
    if (op.op !== 'PUT' && op.op !== 'REMOVE') throw invalid(`op ${i} has kind "${String(op.op)}"; the replicator writes only PUT and REMOVE (MOVE and CLEAR come from compaction).`, { index: i });
    if (typeof op.bucket !== 'string' || op.bucket === '') throw invalid(`op ${i} has no bucket.`, { index: i });
    if (typeof op.table !== 'string' || typeof op.rowId !== 'string') throw invalid(`op ${i} needs a table and a row id as strings.`, { index: i });
    if (op.op === 'PUT' && typeof op.data !== 'string') throw invalid(`op ${i} is a PUT without data; a PUT carries the row as JSON text.`, { index: i });
    if (op.op === 'REMOVE' && op.data !== null && op.data !== undefined) throw invalid(`op ${i} is a REMOVE with data; a REMOVE carries none (its checksum is computed over an empty data).`, { index: i });
    const data = op.op === 'PUT' ? op.data : null;
    let checksum: number;
    if (ops) {
      checksum = storageOpChecksum(op.op, op.table, op.rowId, data);
      ops.buckets[i] = op.bucket;
      ops.ops[i] = op.op;
      ops.tables[i] = op.table;
      ops.rowIds[i] = op.rowId;
      ops.data[i] = data;
      ops.checksums[i] = checksum;
    } else checksum = sink!.add(op.bucket, op.op, op.table, op.rowId, data);
    const totals = perBucket.get(op.bucket);
    if (totals) {
      totals.last = i + 1;
      totals.checksum = addChecksums(totals.checksum, checksum);
      totals.count++;
    } else perBucket.set(op.bucket, { last: i + 1, checksum, count: 1 });
  }
  const buckets: PreparedBatch['buckets'] = { names: [], lastPositions: [], checksums: [], counts: [] };
  for (const [name, totals] of perBucket) {
    buckets.names.push(name);
    buckets.lastPositions.push(totals.last);
    buckets.checksums.push(totals.checksum);
    buckets.counts.push(totals.count);
  }

  // ON CONFLICT DO UPDATE cannot touch one row twice in a statement: keep each key's last upsert.
  const rowUpserts = new RowKeyed<CurrentRowUpsert>();
  for (const row of batch.currentRows?.upsert ?? []) {
    if (!Array.isArray(row.buckets) || row.buckets.some((b) => typeof b !== 'string')) throw invalid(`current row ${row.table}/${row.rowId} needs buckets as an array of strings.`);
    rowUpserts.set(row.table, row.rowId, row);
  }
  const rowInserts = new RowKeyed<CurrentRowUpsert>();
  for (const row of batch.currentRows?.insert ?? []) {
    if (!Array.isArray(row.buckets) || row.buckets.some((b) => typeof b !== 'string')) throw invalid(`current row ${row.table}/${row.rowId} needs buckets as an array of strings.`);
    if (!rowUpserts.has(row.table, row.rowId)) rowInserts.set(row.table, row.rowId, row);
  }
  const rowDeletes = new RowKeyed<{ table: string; rowId: string }>();
  for (const row of batch.currentRows?.delete ?? []) {
    // An upsert or insert replaces the whole row anyway: deleting it first would be wasted work.
    if (!rowUpserts.has(row.table, row.rowId) && !rowInserts.has(row.table, row.rowId)) rowDeletes.set(row.table, row.rowId, row);
  }
  const paramUpserts = new Map<string, ParameterUpsert>();
  for (const p of batch.parameters?.upsert ?? []) {
    if (!Array.isArray(p.values) || p.values.some((tuple) => !Array.isArray(tuple) || tuple.some((v) => typeof v !== 'string'))) {
      throw invalid(`parameter values for lookup "${p.lookup}" must be an array of string arrays, e.g. [["list-1"]].`);
    }
    paramUpserts.set(key(p.lookup, p.sourceTable, p.sourceRowId), p);
  }
  const paramDeletes = new Map<string, { sourceTable: string; sourceRowId: string }>();
  for (const p of batch.parameters?.delete ?? []) paramDeletes.set(key(p.sourceTable, p.sourceRowId), p);

  return {
    opCount: n,
    ops,
    buckets,
    rowUpserts: columns(rowUpserts.values(), { tables: (r) => r.table, rowIds: (r) => r.rowId, buckets: (r) => r.buckets, values: (r) => r.values }),
    rowHashes: rowUpserts.values().map((r) => r.valuesHash ?? null),
    rowInserts: rowInserts.values(),
    rowDeletes: columns(rowDeletes.values(), { tables: (r) => r.table, rowIds: (r) => r.rowId }),
    paramUpserts: columns([...paramUpserts.values()], { lookups: (p) => p.lookup, tables: (p) => p.sourceTable, rowIds: (p) => p.sourceRowId, values: (p) => p.values }),
    paramDeletes: columns([...paramDeletes.values()], { tables: (p) => p.sourceTable, rowIds: (p) => p.sourceRowId }),
    truncate: { rowTables: [...new Set(batch.currentRows?.deleteTables ?? [])], paramTables: [...new Set(batch.parameters?.deleteTables ?? [])] },
    lsn: batch.lsn === undefined ? null : assertLsn(batch.lsn),
    checkpoint: batch.checkpoint,
    snapshotProgress: batch.snapshotProgress === undefined ? null : JSON.stringify(batch.snapshotProgress),
  };
}

/** Turns records into one array per column, each column picked by its function. */
function columns<T, C extends Record<string, (entry: T) => unknown>>(entries: readonly T[], pick: C): { [K in keyof C]: Array<ReturnType<C[K]>> } {
  const out = {} as { [K in keyof C]: Array<ReturnType<C[K]>> };
  for (const name of Object.keys(pick) as Array<keyof C>) out[name] = entries.map(pick[name]!) as Array<ReturnType<C[typeof name]>>;
  return out;
}

/**
 * Current rows keyed by (table, row id), the last one set winning: a map per table, so a row id is
 * hashed as it is instead of being joined with its table into a new string first.
 */
class RowKeyed<T> {
  private readonly byTable = new Map<string, Map<string, T>>();

  set(table: string, rowId: string, value: T): void {
    let rows = this.byTable.get(table);
    if (!rows) this.byTable.set(table, (rows = new Map()));
    rows.set(rowId, value);
  }

  has(table: string, rowId: string): boolean {
    return this.byTable.get(table)?.has(rowId) ?? false;
  }

  values(): T[] {
    const out: T[] = [];
    for (const rows of this.byTable.values()) for (const value of rows.values()) out.push(value);
    return out;
  }
}
