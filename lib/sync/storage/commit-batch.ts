import type pg from 'pg';
import { StorageErrorCode, storageError } from './errors';
import { COPY_CURRENT_ROWS, COPY_OPS, copyIn, CurrentRowsCopy, OpsCopy } from './copy-rows';
import { prepareBatch, type PreparedBatch } from './prepare-batch';
import { rulesVersionNotFound } from './rules-versions';
import { int8, withTransaction } from './sql';
import type { CommitBatch, CommitResult } from './types';

/** The channel a NOTIFY '<rules_id>:<op_id>' is sent on for every checkpoint. */
export const CHECKPOINT_CHANNEL = 'lockstep_checkpoint';

const parameters = (count: number, from = 1) => Array.from({ length: count }, (_, i) => `$${i + from}`).join(', ');

/** lockstep.commit_batch (migrations/0003_current_row_hashes.sql) does the writing, in one round trip. */
const COMMIT_BATCH = `SELECT refused, last_op_id, last_lsn FROM lockstep.commit_batch(${parameters(30)})`;
const TAKE_OP_IDS = 'SELECT refused, last_op_id, last_lsn::text AS last_lsn FROM lockstep.take_op_ids($1, $2, $3, $4)';
/** Everything of a batch after its op ids: bucket totals, current rows, parameters, checkpoint. */
export const WRITE_BATCH = `SELECT lockstep.write_batch(${parameters(30)})`;

/**
 * From this many ops on, a batch sends them with COPY (binary) between taking its op ids and
 * writing the rest: several round trips instead of one, but Postgres no longer parses the ops out
 * of JSON text, which costs more than the round trips for all but small batches.
 */
const COPY_OPS_FROM = 200;

/**
 * Commits one batch of the replicator in ONE storage transaction: numbers its ops (consecutive
 * op ids in array order, following commit order across concurrent callers), checksums them,
 * updates bucket totals, current rows and the parameter index, and optionally records a
 * checkpoint and sends NOTIFY lockstep_checkpoint. All or nothing.
 *
 * A batch with `checkpoint: false` (part of a large source transaction) must eventually be
 * followed by one with `checkpoint: true`. Readers are safe meanwhile: the stream reads up to
 * checkpoints, and checkpointState subtracts ops past the latest one.
 *
 * `internal.copyOpsFrom` moves the point from which ops go by COPY (tests run both ways).
 *
 * @example
 *   await commitBatch(pool, rulesId, { ops: [{ bucket: 'list["1"]', op: 'PUT', table: 'todos', rowId: 'a', data: '{"id":"a"}' }], lsn: '0/16B3748', checkpoint: true });
 */
export async function commitBatch(pool: pg.Pool, rulesId: number, batch: CommitBatch, internal: { copyOpsFrom?: number } = {}): Promise<CommitResult> {
  return commitPrepared(pool, prepareCommit(rulesId, batch, internal));
}

/**
 * A batch validated, checksummed and encoded for commitPrepared. Making it does no I/O, so the
 * replicator makes the next batch's while the previous one commits: only the statements are left
 * for the commit, which batches wait for one after the other.
 */
export interface PreparedCommit {
  readonly rulesId: number;
  readonly batch: PreparedBatch;
  /** One statement: commit_batch's parameters. */
  readonly single?: unknown[];
  /** Several statements: the ops and inserted rows encoded for COPY, write_batch's other parameters. */
  readonly copy?: { ops: OpsCopy; rows: CurrentRowsCopy | null; others: unknown[] };
}

/** Validates and encodes `batch` (see commitBatch); throws STORAGE_BATCH_INVALID on misuse. */
export function prepareCommit(rulesId: number, batch: CommitBatch, internal: { copyOpsFrom?: number } = {}): PreparedCommit {
  if (batch.ops.length >= (internal.copyOpsFrom ?? COPY_OPS_FROM)) {
    const ops = new OpsCopy(rulesId);
    const p = prepareBatch(batch, ops);
    let rows: CurrentRowsCopy | null = null;
    if (p.rowInserts.length > 0) {
      rows = new CurrentRowsCopy(rulesId);
      for (const row of p.rowInserts) rows.add(row);
    }
    return { rulesId, batch: p, copy: { ops, rows, others: otherColumns(p, false) } };
  }
  const p = prepareBatch(batch);
  // An empty op range of one id: the function inserts no op (its op columns are null) but the
  // checkpoint gets an op id of its own.
  return { rulesId, batch: p, single: [rulesId, p.opCount, p.lsn, p.snapshotProgress, p.checkpoint, ...opColumns(p), ...otherColumns(p, true)] };
}

/** Commits a batch made by prepareCommit, in ONE storage transaction (see commitBatch). Each prepared batch commits once. */
export function commitPrepared(pool: pg.Pool, prepared: PreparedCommit): Promise<CommitResult> {
  return startPrepared(pool, prepared).done;
}

/** A batch's commit under way (startPrepared). */
export interface BatchCommit {
  /** The batch's last op id, known once its ops are numbered (before it commits). */
  readonly lastOpId: Promise<number>;
  /** The batch holds the op id counter (until it commits): the next batch may queue for it. */
  readonly counterTaken: Promise<void>;
  readonly done: Promise<CommitResult>;
}

/** What a batch needs of the commit before it to overlap it (startPrepared). */
export type PreviousCommit = Pick<BatchCommit, 'lastOpId' | 'counterTaken' | 'done'>;

/**
 * commitPrepared, overlapping the commit of the batch before (`previous`) for a single writer:
 * the batch's ops are numbered from the previous batch's last op id and sent with COPY while that
 * batch still commits (op ids are new keys: nothing the previous batch writes can conflict); only
 * then does it queue for the counter, whose row lock the previous batch holds until it commits,
 * and write the rest (current rows may be keys the previous batch deletes). So batches
 * still commit one after the other, in order.
 *
 * A batch commits only if the one before did: it waits for `previous.done` before its COMMIT, and
 * is rolled back with STORAGE_RULES_VERSION_STATE when that failed, or when the counter is not
 * where the numbering assumed (anything else wrote). The op ids alone cannot tell: a batch that
 * fails after taking the counter (its inserted rows go last) leaves the counter where the next
 * batch expects it when that one has no ops, and a batch of one statement is numbered by the
 * database. Committing in the failed batch's place would record a later LSN without its changes,
 * and the replicator resumes from that LSN. A batch of one statement therefore starts only once
 * the one before has committed. Without `previous` it is commitPrepared.
 */
export function startPrepared(pool: pg.Pool, prepared: PreparedCommit, previous?: PreviousCommit): BatchCommit {
  const { rulesId, batch: p } = prepared;
  const signals = commitSignals();
  let done: Promise<CommitResult>;
  if (prepared.copy) {
    done = commitWithCopy(pool, rulesId, p, prepared.copy, signals, previous);
  } else {
    done = (async () => {
      // One statement commits as it ends: only after the batch before has committed.
      if (previous) await previousCommitted(rulesId, previous);
      const { rows } = await pool.query<{ refused: string | null; last_op_id: string | null; last_lsn: string | null }>({
        name: 'lockstep_commit_batch',
        text: COMMIT_BATCH,
        values: prepared.single!,
      });
      const result = rows[0]!;
      if (result.refused !== null) throw refusal(rulesId, result.refused, p.lsn, result.last_lsn);
      const lastOpId = int8(result.last_op_id);
      signals.locked();
      signals.numbered(lastOpId);
      return commitResult(p, lastOpId, result.last_lsn);
    })();
  }
  done.catch((error: unknown) => signals.failed(error));
  return { lastOpId: signals.lastOpId, counterTaken: signals.counterTaken, done };
}

type CommitSignals = ReturnType<typeof commitSignals>;

function commitSignals() {
  let numbered!: (lastOpId: number) => void;
  let locked!: () => void;
  const rejects: Array<(error: unknown) => void> = [];
  const lastOpId = new Promise<number>((resolve, reject) => {
    numbered = resolve;
    rejects.push(reject);
  });
  const counterTaken = new Promise<void>((resolve, reject) => {
    locked = resolve;
    rejects.push(reject);
  });
  // Both are surfaced by `done`.
  lastOpId.catch(() => undefined);
  counterTaken.catch(() => undefined);
  return { lastOpId, counterTaken, numbered, locked, failed: (error: unknown) => rejects.forEach((reject) => reject(error)) };
}

/**
 * The same batch in one transaction of several statements: its ops, and the rows it inserts, sent
 * with COPY. The rows go last, after write_batch's deletes (a truncated table's rows included).
 */
async function commitWithCopy(
  pool: pg.Pool,
  rulesId: number,
  p: PreparedBatch,
  encoded: NonNullable<PreparedCommit['copy']>,
  signals: CommitSignals,
  previous: PreviousCommit | undefined,
): Promise<CommitResult> {
  const n = p.opCount;
  return withTransaction(pool, async (client) => {
    const takeOpIds = async () => {
      const { rows } = await client.query<{ refused: string | null; last_op_id: string | null; last_lsn: string | null }>({
        name: 'lockstep_take_op_ids',
        text: TAKE_OP_IDS,
        values: [rulesId, n, p.lsn, p.snapshotProgress],
      });
      const taken = rows[0]!;
      if (taken.refused !== null) throw refusal(rulesId, taken.refused, p.lsn, taken.last_lsn);
      signals.locked();
      return { lastOpId: int8(taken.last_op_id), lastLsn: taken.last_lsn };
    };
    let taken: { lastOpId: number; lastLsn: string | null };
    if (previous) {
      const base = await previous.lastOpId;
      signals.numbered(base + n);
      await copyIn(client, COPY_OPS, encoded.ops.finish(base));
      // Queued behind the previous batch, which holds the counter's row lock until it commits.
      await previous.counterTaken;
      taken = await takeOpIds();
      if (taken.lastOpId !== base + n) {
        throw storageError(
          StorageErrorCode.rulesVersionState,
          `A batch of rules version ${rulesId} numbered its ops after op id ${base}, but the counter moved to ${taken.lastOpId - n}: another writer, or the batch before failed. Rolled back.`,
          { details: { rulesId, expected: base, found: taken.lastOpId - n } },
        );
      }
    } else {
      taken = await takeOpIds();
      signals.numbered(taken.lastOpId);
      await copyIn(client, COPY_OPS, encoded.ops.finish(taken.lastOpId - n));
    }
    await client.query({
      name: 'lockstep_write_batch',
      text: WRITE_BATCH,
      values: [rulesId, taken.lastOpId, n, taken.lastLsn, p.checkpoint, null, null, null, null, null, null, ...encoded.others],
    });
    encoded.ops.recycle();
    if (encoded.rows) {
      await copyIn(client, COPY_CURRENT_ROWS, encoded.rows.finish());
      encoded.rows.recycle();
    }
    // Its counter lock was granted, so the batch before has ended: commit only if it committed.
    if (previous) await previousCommitted(rulesId, previous);
    return commitResult(p, taken.lastOpId, taken.lastLsn);
  });
}

/** Resolves once the batch before has committed; throws STORAGE_RULES_VERSION_STATE when it failed. */
function previousCommitted(rulesId: number, previous: PreviousCommit): Promise<void> {
  return committedBefore(rulesId, previous.done, `The batch before this one in rules version ${rulesId} failed, so this one was rolled back: a batch never commits in the place of the one before.`);
}

/**
 * Resolves once `done`, the commit before an overlapping one (a batch's, a snapshot chunk's), has
 * succeeded; when it failed, throws STORAGE_RULES_VERSION_STATE with `message` (the failure as its
 * cause), so that the overlapping commit rolls back instead of committing in its place.
 */
export async function committedBefore(rulesId: number, done: Promise<unknown>, message: string): Promise<void> {
  try {
    await done;
  } catch (error) {
    throw storageError(StorageErrorCode.rulesVersionState, message, { details: { rulesId }, cause: error });
  }
}

function commitResult(p: PreparedBatch, lastOpId: number, lastLsn: string | null): CommitResult {
  const n = p.opCount;
  return { firstOpId: n > 0 ? lastOpId - n + 1 : null, lastOpId, ...(p.checkpoint ? { checkpoint: { opId: lastOpId, lsn: lastLsn } } : {}) };
}

/** Each column as one JSON text; NULL for a part of the batch that is empty, so it is skipped. */
const json = (...columns: unknown[][]) => columns.map((column) => (columns[0]!.length === 0 ? null : JSON.stringify(column)));

function opColumns(p: PreparedBatch): unknown[] {
  const ops = p.ops!; // made without a sink
  return json(ops.buckets, ops.ops, ops.tables, ops.rowIds, ops.data, ops.checksums);
}

/** Bucket totals, current rows and parameters, in lockstep.write_batch's order; the inserted rows as upserts or not at all. */
function otherColumns(p: PreparedBatch, withInserts: boolean): unknown[] {
  const { buckets, rowDeletes, paramDeletes, paramUpserts: params, truncate } = p;
  const rows = { ...p.rowUpserts, hashes: p.rowHashes };
  if (withInserts && p.rowInserts.length > 0) {
    const inserts = p.rowInserts;
    rows.tables = [...rows.tables, ...inserts.map((r) => r.table)];
    rows.rowIds = [...rows.rowIds, ...inserts.map((r) => r.rowId)];
    rows.buckets = [...rows.buckets, ...inserts.map((r) => r.buckets)];
    rows.values = [...rows.values, ...inserts.map((r) => r.values)];
    rows.hashes = [...rows.hashes, ...inserts.map((r) => r.valuesHash ?? null)];
  }
  return [
    ...json(buckets.names, buckets.lastPositions, buckets.checksums, buckets.counts),
    ...json(rowDeletes.tables, rowDeletes.rowIds),
    ...json(truncate.rowTables),
    ...json(rows.tables, rows.rowIds, rows.buckets, rows.values, rows.hashes),
    ...json(paramDeletes.tables, paramDeletes.rowIds),
    ...json(truncate.paramTables),
    ...json(params.lookups, params.tables, params.rowIds, params.values),
  ];
}

/** The counter could not be taken: say which of its conditions failed. */
export function refusal(rulesId: number, reason: string, lsn: string | null, lastLsn: string | null): Error {
  if (reason === 'not_found') return rulesVersionNotFound(rulesId);
  if (reason === 'retired') {
    return storageError(StorageErrorCode.rulesVersionState, `Rules version ${rulesId} is retired; the replicator must not write to it any more.`, { details: { rulesId } });
  }
  return storageError(
    StorageErrorCode.lsnRegression,
    `Batch LSN ${lsn} is before the LSN ${lastLsn} already committed for rules version ${rulesId}. Committing it again would duplicate ops; the replicator must skip transactions it has already written.`,
    { details: { rulesId, lsn, lastLsn } },
  );
}
