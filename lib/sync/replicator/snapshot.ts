import { setImmediate as nextTurn } from 'node:timers/promises';
import pg from 'pg';
import { SnapshotChunk, startSnapshotChunk, type ChunkCommit, type SnapshotProgress, type TableSnapshotProgress } from '@/lib/sync/storage';
import { parameterEntries, type RowRules } from './changes';
import type { Logger } from './log';
import { encodePlacement } from './placements';
import { rowHash, toastableValues } from './row-state';
import type { ReplicatorRules } from './rules';
import { readTable, type SnapshotChunk as SourceChunk } from './snapshot-reader';
import { qualified, sourceClientConfig } from './source';

/** Snapshot progress plus the LSN streaming must reach before the first checkpoint. */
export interface ReplicatorSnapshotProgress extends SnapshotProgress {
  /** Set when the snapshot completes: no checkpoint before the stream has passed it. */
  catchUpLsn?: string;
}

export interface SnapshotOptions {
  sourceUrl: string;
  storage: pg.Pool;
  rulesId: number;
  rules: ReplicatorRules;
  progress: ReplicatorSnapshotProgress;
  /** The slot's exported snapshot; absent when resuming after a crash (see docs/replicator.md). */
  snapshotName: string | undefined;
  chunkSize: number;
  log: Logger;
  signal: AbortSignal;
}

/** Rows planned between two turns of the event loop, so the COPY being sent and the next read keep moving. */
const ROWS_PER_TURN = 1000;

/**
 * Copies every source table into bucket storage, chunk by chunk in primary-key order. Each chunk's
 * ops, current rows, parameter entries and the progress that says it is done commit together, so
 * a crash resumes after the last committed chunk with nothing lost or written twice. Four chunks
 * are in flight at once: one is read from the source, the one before is planned, and the two before
 * that commit, the later writing its rows while the earlier finishes (they commit in order: op ids
 * follow the key order; see startSnapshotChunk). No checkpoint is made here: clients see nothing
 * until streaming has caught up (invariant 2).
 */
export async function snapshotTables(options: SnapshotOptions): Promise<void> {
  const { rules, progress, log } = options;
  const reader = new pg.Client(sourceClientConfig(options.sourceUrl));
  reader.on('error', () => undefined); // a dropped connection fails the read in flight or the next one
  await reader.connect();
  try {
    for (const table of rules.sourceTables) {
      const name = qualified(table);
      const state: TableSnapshotProgress = progress.tables[name] ?? { done: false, lastKey: null, rows: 0 };
      progress.tables[name] = state;
      if (state.done) continue;
      const started = Date.now();
      log.info('snapshot table', { table: name, resumeAfter: state.lastKey, rowsSoFar: state.rows });
      const chunks = readTable(reader, table, { afterKey: state.lastKey, chunkSize: options.chunkSize, snapshotName: options.snapshotName });
      let next: Promise<IteratorResult<SourceChunk>> = chunks.next();
      // Two commits in flight: the later one writes its rows while the earlier one commits.
      let earlier: ChunkCommit | undefined;
      let later: ChunkCommit | undefined;
      for (;;) {
        const result = await next;
        if (result.done) break;
        options.signal.throwIfAborted();
        next = chunks.next();
        next.catch(() => undefined); // surfaced when awaited
        const t0 = performance.now();
        // Rows read without the exported snapshot may already reflect changes streaming will
        // replay: they are stored with a hash, so the replays are recognised (ChangePlanner).
        const chunk = await planChunk(rules, options.rulesId, table.key, result.value, options.snapshotName === undefined);
        state.lastKey = result.value.lastKey;
        state.rows += result.value.rows.count;
        const t1 = performance.now();
        await earlier?.done;
        const waited = performance.now() - t1;
        // startSnapshotChunk reads the progress now, before the next chunk moves it on.
        earlier = later;
        later = startSnapshotChunk(options.storage, chunk, progress, later);
        later.done.catch(() => undefined); // surfaced when awaited
        log.debug('snapshot chunk', { rows: result.value.rows.count, ops: chunk.opCount, planMs: Math.round(t1 - t0), waitedForCommitMs: Math.round(waited) });
      }
      await earlier?.done;
      await later?.done;
      // Saved with the next chunk, or when the snapshot completes: until then a restart reads the
      // rest of the table again and finds nothing after its last key.
      state.done = true;
      log.info('snapshot table done', { table: name, rows: state.rows, ms: Date.now() - started });
    }
  } finally {
    await reader.end();
  }
}

/**
 * Plans a chunk of rows that storage has never seen (rows after the last committed key): each is
 * an insert into an empty store, so there is nothing to load, fill or compare; the ops, current rows
 * and parameter entries are what ChangePlanner would produce for an insert, encoded straight for COPY.
 */
async function planChunk(rules: ReplicatorRules, rulesId: number, table: string, source: SourceChunk, hashRows: boolean): Promise<SnapshotChunk> {
  const { rows, types } = source;
  if (rows.count > 0) rules.observeColumns(table, rows.columns);
  const chunk = new SnapshotChunk(rulesId);
  const isData = rules.isDataTable(table);
  const isParameter = rules.isParameterTable(table);
  for (let start = 0; start < rows.count; start += ROWS_PER_TURN) {
    if (start > 0) await nextTurn();
    const end = Math.min(rows.count, start + ROWS_PER_TURN);
    // Each row is parsed here, just before it is planned, so it dies young (CopyTextRows).
    for (let i = start; i < end; i++) planRow(rules, chunk, table, rows.row(i) as Record<string, string | null>, isData, isParameter, types, hashRows);
  }
  return chunk;
}

function planRow(rules: RowRules, chunk: SnapshotChunk, table: string, row: Record<string, string | null>, isData: boolean, isParameter: boolean, types: SourceChunk['types'], hashRows: boolean): void {
  const id = rules.rowId(table, row);
  if (isParameter) for (const entry of parameterEntries(rules, table, id, row)) chunk.parameter(entry);
  if (!isData) return;
  const placed = rules.evaluateRow(table, row);
  const buckets: string[] = [];
  for (const p of placed) {
    chunk.put(p.bucket, p.table, id, p.data);
    buckets.push(encodePlacement(p));
  }
  chunk.currentRow({ table, rowId: id, buckets, values: toastableValues(row, types), valuesHash: hashRows ? rowHash(row) : '' });
}
