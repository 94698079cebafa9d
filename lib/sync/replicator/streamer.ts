import type pg from 'pg';
import { getCurrentRows, listCurrentRows, prepareCommit, startPrepared, type BatchCommit, type CommitResult, type PreparedCommit, type PreviousCommit } from '@/lib/sync/storage';
import { ChangePlanner, type RowOverlay, type SourceChange } from './changes';
import { ReplicationError } from './errors';
import type { Logger } from './log';
import { compareLsn, maxLsn, ZERO_LSN, type Lsn } from './lsn';
import type { PgoutputHandler, PgoutputRelation } from './pgoutput';
import type { ColumnTypes } from './row-state';
import type { ReplicatorRules } from './rules';
import { sourceClientConfig } from './source';
import { WalStream } from './wal-stream';

export interface StreamerOptions {
  sourceUrl: string;
  storage: pg.Pool;
  rulesId: number;
  slot: string;
  rules: ReplicatorRules;
  /** The version's last committed LSN: transactions that end at or before it are already stored. */
  resumeLsn: Lsn;
  /** No checkpoint before the stream has passed this LSN (the end of the snapshot). */
  catchUpLsn: Lsn;
  /** Whether the version already has a checkpoint. */
  hasCheckpoint: boolean;
  /** Source changes per storage commit at most (whole transactions are never split). */
  maxBatchChanges: number;
  log: Logger;
  onCheckpoint?: (result: CommitResult, lsn: Lsn) => void;
  /**
   * Whether an INSERT's row may be taken as new to storage, without looking it up (ChangePlanner's
   * insertsAreNew). Shared with the streamers that follow this one: set to false, for good, when a
   * batch finds storage holding such a row (its commit fails and the next streamer replays it).
   */
  inserts?: InsertTrust;
}

/** See StreamerOptions.inserts. */
export interface InsertTrust {
  areNew: boolean;
}

interface PendingTransaction {
  lsn: Lsn;
  commitTime: number;
  changes: SourceChange[];
  /** A checkpoint no source transaction carries (see idleCheckpoint). */
  forceCheckpoint?: boolean;
}

/** Transactions planned together, ready to commit as one storage batch. */
interface PlannedBatch {
  transactions: PendingTransaction[];
  changes: number;
  planner: ChangePlanner;
  lsn: Lsn;
  planMs: number;
}

/**
 * Follows the slot: decodes each source transaction, groups the transactions waiting in line into
 * one storage commit (ops in commit order, a checkpoint at the end: never half a transaction), and
 * confirms an LSN to the server only after the storage commit that contains it.
 */
export class Streamer {
  private readonly stream: WalStream;
  /** Per relation oid: the synced table it is, or undefined when the sync rules do not name it. */
  private readonly tables = new Map<number, { key: string; types: ColumnTypes } | undefined>();
  private readonly warned = new Set<string>();
  private current: PendingTransaction | undefined;
  private pending: PendingTransaction[] = [];
  private pendingChanges = 0;
  private wake: (() => void) | undefined;
  private failure: unknown;
  private stopped = false;
  /** A batch is being planned or committed. */
  private flushing = false;
  private ticking = false;
  private seenWriteCheckpoint = '0';
  /** The last LSN committed to storage. */
  private lastLsn: Lsn;
  private hasCheckpoint: boolean;
  private lastCommitTime = 0;

  constructor(private readonly options: StreamerOptions) {
    this.hasCheckpoint = options.hasCheckpoint;
    this.lastLsn = options.resumeLsn;
    this.stream = new WalStream({
      client: sourceClientConfig(options.sourceUrl),
      slot: options.slot,
      publication: options.rules.publicationName,
      startLsn: options.resumeLsn,
      handler: this.handler(),
      isIdle: () => this.pending.length === 0 && this.current === undefined && !this.flushing,
    });
  }

  /** Streams until stop() or a failure (then it rejects; the caller reconnects). */
  async run(): Promise<void> {
    const flusher = this.flushLoop();
    const idleTick = setInterval(() => void this.idleCheckpoint(), 250);
    // Until the first checkpoint (which activates a new rules version) look more often.
    const firstTick = setInterval(() => (this.hasCheckpoint ? clearInterval(firstTick) : void this.idleCheckpoint()), 20);
    if (!this.hasCheckpoint) void this.idleCheckpoint();
    try {
      await Promise.race([this.stream.run(), flusher]);
      if (this.failure) throw this.failure;
    } catch (error) {
      if (this.failure || !this.stopped) throw this.failure ?? error;
    } finally {
      clearInterval(idleTick);
      clearInterval(firstTick);
      this.stopped = true;
      this.wake?.();
      await this.stream.stop().catch(() => undefined);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.stream.stop();
  }

  /** Seconds since the commit of the oldest source transaction not yet in storage (0 when idle). */
  lagSeconds(): number {
    const oldest = this.pending[0]?.commitTime ?? this.current?.commitTime;
    return oldest ? Math.max(0, (Date.now() - oldest) / 1000) : 0;
  }

  get confirmedLsn(): Lsn {
    return this.stream.confirmedLsn;
  }

  get lastSourceCommitTime(): number {
    return this.lastCommitTime;
  }

  private fail(error: unknown): void {
    if (this.failure) return;
    this.options.log.debug('streamer failed', { error });
    const { inserts } = this.options;
    if (inserts?.areNew && isCurrentRowConflict(error)) {
      inserts.areNew = false;
      this.options.log.warn('bucket storage holds a row the source inserted again (was a synced table renamed away and back?); the rows of inserts are looked up from now on', { error });
    }
    this.failure = error;
    this.stopped = true;
    this.wake?.();
    void this.stream.stop();
  }

  /** The decoder's handler: called synchronously for each message, in stream order. */
  private handler(): PgoutputHandler {
    return {
      begin: (commitTime) => {
        if (this.failure || this.stopped) return;
        this.current = { lsn: ZERO_LSN, commitTime, changes: [] };
      },
      relation: (relation, previous) => this.onRelation(relation, previous),
      insert: (relation, row) => {
        const table = this.tableOf(relation);
        if (table) this.push({ kind: 'insert', table: table.key, row, types: table.types });
      },
      update: (relation, old, row) => {
        const table = this.tableOf(relation);
        if (table) this.push({ kind: 'update', table: table.key, old, row, types: table.types });
      },
      delete: (relation, old) => {
        const table = this.tableOf(relation);
        if (table) this.push({ kind: 'delete', table: table.key, old });
      },
      truncate: (relations) => {
        for (const relation of relations) {
          const table = this.tableOf(relation);
          if (table) this.push({ kind: 'truncate', table: table.key });
        }
      },
      commit: (endLsn) => this.onCommit(endLsn),
    };
  }

  private onRelation(relation: PgoutputRelation, previous: PgoutputRelation | undefined): void {
    const key = this.options.rules.tableKey(relation.schema, relation.name);
    const name = `${relation.schema}.${relation.name}`;
    const names = relation.columns.map((c) => c.name);
    if (previous && `${previous.schema}.${previous.name}` !== name) {
      this.options.log.warn('a synced table was renamed; its changes are ignored until sync.config.ts follows', { from: `${previous.schema}.${previous.name}`, to: name });
    } else if (previous && previous.columns.map((c) => c.name).join(',') !== names.join(',')) {
      this.options.log.info('columns of a synced table changed', { table: name, columns: names });
    }
    this.tables.set(relation.oid, key ? { key, types: new Map(relation.columns.map((c) => [c.name, c.typeOid])) } : undefined);
    if (key) this.options.rules.observeColumns(key, names);
  }

  /** The synced table a relation is, or undefined (once warned) when the sync rules do not name it. */
  private tableOf(relation: PgoutputRelation): { key: string; types: ColumnTypes } | undefined {
    const table = this.tables.get(relation.oid);
    if (table) return table;
    const name = `${relation.schema}.${relation.name}`;
    if (!this.warned.has(name)) {
      this.warned.add(name);
      this.options.log.warn('changes to a table the sync rules do not name are ignored', { table: name });
    }
    return undefined;
  }

  private push(change: SourceChange): void {
    if (this.failure || this.stopped) return;
    if (!this.current) throw new ReplicationError('PGOUTPUT_INVALID', 'pgoutput sent a change outside a transaction.');
    this.current.changes.push(change);
  }

  private onCommit(end: Lsn): void {
    const txn = this.current;
    this.current = undefined;
    if (!txn || this.failure || this.stopped) return;
    this.lastCommitTime = txn.commitTime;
    // Already in storage: a replay after a restart (the slot resends from its confirmed position).
    if (compareLsn(end, this.options.resumeLsn) <= 0) return;
    txn.lsn = end;
    this.pending.push(txn);
    this.pendingChanges += txn.changes.length;
    this.wake?.();
    // Backpressure: stop reading from the server while storage is this far behind.
    if (this.pendingChanges > this.options.maxBatchChanges * 4) {
      this.options.log.debug('backpressure', { pendingChanges: this.pendingChanges });
      this.stream.pause();
    }
  }

  /**
   * Plans the next batch while the previous one commits (Node and the storage database work at
   * the same time), and starts writing it while the previous one finishes its commit, but batches
   * commit strictly one after the other, each only if the one before committed: op ids follow
   * commit order (startPrepared), and an LSN is confirmed only once everything before it is in
   * storage. Transactions that arrive while a commit is under way join the batch being planned,
   * up to maxBatchChanges, so batches grow with the load. The batch being planned reads the rows
   * the batches still committing changed from their overlays, so it never depends on those
   * commits.
   */
  private async flushLoop(): Promise<void> {
    /** Commits under way, oldest first: at most two (one writing, one finishing its commit). */
    let inFlight: InFlight[] = [];
    try {
      while (!this.stopped) {
        inFlight = await settledOff(inFlight); // rethrows a failure
        if (this.pending.length === 0) {
          if (inFlight.length === 0) {
            this.flushing = false;
            await this.woken(undefined);
          } else await this.woken(inFlight[inFlight.length - 1]!.done);
          continue;
        }
        this.flushing = true;
        const batch = this.newBatch(overlaysOf(inFlight));
        for (;;) {
          await this.takePending(batch);
          const latest = inFlight[inFlight.length - 1];
          // Start once the latest commit holds the counter (its rows are written), so this batch's
          // writing overlaps its commit; until then, take what arrives.
          if (!latest || latest.counterTaken || latest.settled || this.stopped || batch.changes >= this.options.maxBatchChanges) break;
          await this.woken(latest.turn);
          if (this.pending.length > 0 && batch.changes + this.pending[0]!.changes.length > this.options.maxBatchChanges) break;
        }
        // Encoded while the previous batch commits: only the statements wait for it.
        const prepared = this.prepare(batch);
        if (inFlight.length === 2) {
          await inFlight[0]!.done;
          inFlight.shift();
        }
        const { done, pipeline } = this.commit(batch, prepared, inFlight[inFlight.length - 1]);
        const entry: InFlight = { done, pipeline, turn: done, settled: false, counterTaken: false, overlay: batch.planner.overlay() };
        if (pipeline) {
          entry.turn = Promise.race([pipeline.counterTaken, done]);
          void pipeline.counterTaken.then(() => (entry.counterTaken = true), () => undefined);
        }
        entry.turn = entry.turn.then(() => undefined, () => undefined);
        done.then(() => (entry.settled = true), () => (entry.settled = true));
        inFlight.push(entry);
      }
      for (const entry of inFlight) await entry.done;
    } catch (error) {
      this.fail(error);
    } finally {
      this.flushing = false;
    }
  }

  /** Until a transaction arrives (or stop), or `done` settles. */
  private async woken(done: Promise<void> | undefined): Promise<void> {
    const woken = new Promise<void>((resolve) => (this.wake = resolve));
    await (done ? Promise.race([woken, done.then(() => undefined, () => undefined)]) : woken);
    this.wake = undefined;
  }

  private newBatch(overlay: RowOverlay[]): PlannedBatch {
    const { rules, storage, rulesId } = this.options;
    const planner = new ChangePlanner(
      rules,
      (table, ids) => getCurrentRows(storage, rulesId, table, ids),
      (table, after, limit) => listCurrentRows(storage, rulesId, table, after, limit),
      overlay,
      // Until the first checkpoint the stream may replay changes a resumed snapshot already read.
      !this.hasCheckpoint,
      this.options.inserts?.areNew ?? false,
    );
    return { transactions: [], changes: 0, planner, lsn: this.lastLsn, planMs: 0 };
  }

  /** Adds the transactions waiting in line to the batch (whole ones; up to maxBatchChanges unless it is empty). */
  private async takePending(batch: PlannedBatch): Promise<void> {
    const taken: PendingTransaction[] = [];
    while (this.pending.length > 0 && (batch.changes === 0 || batch.changes + this.pending[0]!.changes.length <= this.options.maxBatchChanges)) {
      const txn = this.pending.shift()!;
      taken.push(txn);
      batch.changes += txn.changes.length;
    }
    if (taken.length === 0) return;
    const started = performance.now();
    batch.transactions.push(...taken);
    batch.lsn = taken[taken.length - 1]!.lsn;
    await batch.planner.add(taken.length === 1 ? taken[0]!.changes : taken.flatMap((t) => t.changes));
    batch.planMs += performance.now() - started;
  }

  /** The batch's storage writes, validated and encoded for COPY (no I/O). */
  private prepare({ planner, lsn }: PlannedBatch): PreparedCommit {
    const checkpoint = compareLsn(lsn, this.options.catchUpLsn) >= 0;
    // Rows taken as new go by COPY, which fails rather than overwrite a row storage holds after all.
    return prepareCommit(this.options.rulesId, { ops: planner.ops, ...planner.storageUpdates(), lsn, checkpoint }, planner.newRowsAssumed ? { copyOpsFrom: 0 } : {});
  }

  /**
   * Starts the batch's commit after `previous` (see flushLoop): `done` settles once the batch is
   * in storage and its LSN confirmed; `pipeline` lets the next batch overlap this one's commit
   * (absent when this batch writes nothing, or commits on its own after `previous`).
   */
  private commit({ transactions, changes, planner, lsn, planMs }: PlannedBatch, prepared: PreparedCommit, previous: InFlight | undefined): { done: Promise<void>; pipeline?: PreviousCommit } {
    const { storage } = this.options;
    const started = performance.now();
    const checkpoint = prepared.batch.checkpoint;
    const updates = planner.storageUpdates();
    const emptyBatch = planner.ops.length === 0 && updates.currentRows.upsert.length + updates.currentRows.insert.length + updates.currentRows.delete.length + updates.parameters.delete.length === 0;
    const forced = transactions.some((t) => t.forceCheckpoint);
    const finish = () => {
      this.options.log.debug('flush', { transactions: transactions.length, changes, ops: planner.ops.length, lsn, planMs: Math.round(planMs), commitMs: Math.round(performance.now() - started) });
      this.pendingChanges -= changes;
      if (this.pendingChanges <= this.options.maxBatchChanges * 4) this.stream.resume();
    };
    const skippable = emptyBatch && planner.truncatedParameterTables.size === 0 && !forced;
    if (previous?.pipeline && !skippable) {
      const handle = startPrepared(storage, prepared, previous.pipeline);
      return { done: this.committed(handle, lsn, checkpoint).then(finish), pipeline: handle };
    }
    // After everything before it is in storage.
    let begun: (handle: BatchCommit) => void = () => undefined;
    let failed: (error: unknown) => void = () => undefined;
    const handle = new Promise<BatchCommit>((resolve, reject) => {
      begun = resolve;
      failed = reject;
    });
    handle.catch(() => undefined); // surfaced by `done`
    const done = (async () => {
      await previous?.done;
      if (skippable && this.hasCheckpoint) {
        // Nothing synced changed: no storage write, but the WAL can be released.
        this.stream.confirm(lsn);
      } else {
        // A batch without ops (only parameter lookups changed, or a write checkpoint asked for
        // it) checkpoints at the current op id with a later LSN; the hub runs a round for it.
        const commit = startPrepared(storage, prepared);
        begun(commit);
        await this.committed(commit, lsn, checkpoint);
      }
      finish();
    })();
    done.catch((error: unknown) => failed(error));
    // A batch that may write nothing leaves the counter as it was: the next one waits for it to end.
    if (skippable) return { done };
    const pipeline: PreviousCommit = { lastOpId: handle.then((h) => h.lastOpId), counterTaken: handle.then((h) => h.counterTaken), done: handle.then((h) => h.done) };
    // A failure is surfaced by `done`, whether or not a next batch waits on these.
    for (const signal of [pipeline.lastOpId, pipeline.counterTaken, pipeline.done]) signal.catch(() => undefined);
    return { done, pipeline };
  }

  private async committed(handle: BatchCommit, lsn: Lsn, checkpoint: boolean): Promise<void> {
    const result = await handle.done;
    // Commits end in order, but their replies may be handled out of it.
    this.lastLsn = maxLsn(this.lastLsn, lsn);
    this.stream.confirm(lsn);
    if (checkpoint) {
      this.hasCheckpoint = true;
      this.options.onCheckpoint?.(result, lsn);
    }
  }

  /**
   * Checkpoints that no source transaction carries, made while nothing is in flight:
   * - before the first checkpoint, once the stream has passed the snapshot's end;
   * - when a write checkpoint is pending at an LSN the server's WAL has passed (the upload may
   *   have changed nothing synced, or other WAL came after it): the client waiting for it must
   *   get a checkpoint at or past its LSN.
   */
  private async idleCheckpoint(): Promise<void> {
    if (this.stopped || this.ticking || !this.stream.isIdle()) return;
    this.ticking = true;
    try {
      let target: Lsn | undefined;
      let writeCheckpointId: string | undefined;
      if (!this.hasCheckpoint) {
        target = this.options.catchUpLsn;
      } else {
        const { rows } = await this.options.storage.query<{ id: string | null; lsn: string | null }>(
          'SELECT max(id)::text AS id, max(lsn)::text AS lsn FROM lockstep.write_checkpoints WHERE id > $1',
          [this.seenWriteCheckpoint],
        );
        if (!rows[0]?.lsn || !rows[0].id) return;
        target = rows[0].lsn;
        writeCheckpointId = rows[0].id;
      }
      if (compareLsn(this.stream.serverLsn, target) < 0) {
        this.stream.ping();
        return;
      }
      // Queued like a transaction, so it is committed in order with anything that arrives now.
      if (!this.stream.isIdle() || this.stopped) return;
      const lsn = this.hasCheckpoint ? maxLsn(this.stream.serverLsn, this.lastLsn) : target;
      if (compareLsn(lsn, this.lastLsn) < 0) return;
      this.pending.push({ lsn, commitTime: 0, changes: [], forceCheckpoint: true });
      if (writeCheckpointId) this.seenWriteCheckpoint = writeCheckpointId;
      this.wake?.();
    } catch (error) {
      this.fail(error);
    } finally {
      this.ticking = false;
    }
  }
}

/** A batch whose commit is under way. */
interface InFlight {
  /** Absent when the next batch must wait for this one to end. */
  pipeline: PreviousCommit | undefined;
  done: Promise<void>;
  /** Settles when the commit holds the counter, or ends. */
  turn: Promise<void>;
  settled: boolean;
  counterTaken: boolean;
  overlay: RowOverlay;
}

/** Drops the commits that have settled, rethrowing the first failure. */
async function settledOff(inFlight: InFlight[]): Promise<InFlight[]> {
  while (inFlight[0]?.settled) {
    await inFlight[0].done;
    inFlight = inFlight.slice(1);
  }
  return inFlight;
}

/** The rows the commits under way changed, oldest first (the planner reads the later batch's first). */
function overlaysOf(inFlight: InFlight[]): RowOverlay[] {
  return inFlight.map((entry) => entry.overlay);
}

/** The unique violation a COPY of inserted current rows meets when storage already holds one of them. */
function isCurrentRowConflict(error: unknown): boolean {
  const e = error as { code?: unknown; constraint?: unknown } | null;
  return e?.code === '23505' && e.constraint === 'current_rows_pkey';
}
