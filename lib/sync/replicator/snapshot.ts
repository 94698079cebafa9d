import pg from 'pg';
import { commitBatch, updateSnapshotProgress, type SnapshotProgress, type TableSnapshotProgress } from '@/lib/sync/storage';
import { ChangePlanner } from './changes';
import type { Logger } from './log';
import type { ReplicatorRules } from './rules';
import { readTable, type SnapshotChunk } from './snapshot-reader';
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

/**
 * Copies every source table into bucket storage, chunk by chunk in primary-key order. Each chunk's
 * ops, current rows, parameter entries and the progress that says it is done commit together, so
 * a crash resumes after the last committed chunk with nothing lost or written twice. No checkpoint
 * is made here: clients see nothing until streaming has caught up (invariant 2).
 */
export async function snapshotTables(options: SnapshotOptions): Promise<void> {
  const { rules, progress, log } = options;
  const reader = new pg.Client(sourceClientConfig(options.sourceUrl));
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
      // Read the next chunk from the source while the previous one commits to storage.
      let next: Promise<IteratorResult<SnapshotChunk>> = chunks.next();
      for (;;) {
        const result = await next;
        if (result.done) break;
        options.signal.throwIfAborted();
        next = chunks.next();
        next.catch(() => undefined); // surfaced when awaited
        await commitChunk(options, table.key, result.value, state);
      }
      state.done = true;
      await updateSnapshotProgress(options.storage, options.rulesId, progress);
      log.info('snapshot table done', { table: name, rows: state.rows, ms: Date.now() - started });
    }
  } finally {
    await reader.end();
  }
}

async function commitChunk(options: SnapshotOptions, tableKey: string, chunk: SnapshotChunk, state: TableSnapshotProgress): Promise<void> {
  // Rows after the saved key were never stored, so there is nothing to load.
  const t0 = performance.now();
  const first = chunk.rows[0];
  if (first) options.rules.observeColumns(tableKey, Object.keys(first));
  const planner = new ChangePlanner(options.rules, async () => new Map());
  await planner.add(chunk.rows.map((row) => ({ kind: 'insert' as const, table: tableKey, row })));
  state.lastKey = chunk.lastKey;
  state.rows += chunk.rows.length;
  const t1 = performance.now();
  await commitBatch(options.storage, options.rulesId, { ops: planner.ops, ...planner.storageUpdates(), checkpoint: false, snapshotProgress: options.progress });
  options.log.debug('snapshot chunk', { rows: chunk.rows.length, planMs: Math.round(t1 - t0), commitMs: Math.round(performance.now() - t1) });
}
