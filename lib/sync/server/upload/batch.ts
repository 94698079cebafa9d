import { drizzle } from 'drizzle-orm/node-postgres';
import type pg from 'pg';
import { UploadRejectionCode, type UploadErrorBody, type UploadRequest, type UploadTransaction, type UploadTransactionResult } from '@/lib/sync/protocol';
import { createWriteCheckpoint } from '@/lib/sync/storage';
import { appTransactionStatus, findUploadRecords, markPending, settle, unmarkPending, type UploadRecord } from './idempotency';
import { isUploadRejection, UploadRejection } from './rejection';
import type { TableUploadHandler, Uploader, UploadTx } from './table-handler';

/** What applyBatch needs of the uploader's options. */
export interface BatchContext {
  source: pg.Pool;
  storage: pg.Pool;
  tables: Record<string, TableUploadHandler>;
  onRejected?: (user: Uploader, transaction: UploadTransaction | undefined, error: UploadErrorBody) => void;
}

/** A transaction's fate before the write checkpoint exists: those committed now get it afterwards. */
type Outcome = UploadTransactionResult | { status: 'committed'; replayed: boolean };

/**
 * Applies a validated batch in ONE Postgres transaction, each uploaded transaction atomically and
 * in order. The first pass runs them one after another with no savepoints (a savepoint costs a
 * round trip and a subtransaction id per transaction); when one of them fails, that pass is
 * rolled back and a second pass runs each inside its own savepoint: a rejected one is rolled back
 * to its savepoint and the next goes on; a retryable failure stops the batch there, and the ones
 * before it still commit. After the commit, one write checkpoint covers every transaction
 * applied. Idempotency records (idempotency.ts) are read and written for the whole batch at once.
 */
export async function applyBatch(ctx: BatchContext, user: Uploader, request: UploadRequest): Promise<{ results: UploadTransactionResult[]; writeCheckpoint: string | null }> {
  const ids = request.transactions.map((t) => t.id.toLowerCase());
  const outcomes = (await runPass(ctx, user, request, ids, 'optimistic')) ?? (await runPass(ctx, user, request, ids, 'savepoints'))!;
  const committed = outcomes.flatMap((o, i) => (o.status === 'committed' ? [ids[i]!] : []));
  let writeCheckpoint: string | null = null;
  if (committed.length > 0) {
    // The insert position is past the commit record even with synchronous_commit=off.
    const { rows } = await ctx.source.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
    const id = await createWriteCheckpoint(ctx.storage, user.id, request.client_id, rows[0]!.lsn);
    await settle(ctx.storage, user.id, request.client_id, committed.map((transactionId) => ({ transactionId, outcome: { state: 'applied', writeCheckpoint: id } })));
    writeCheckpoint = String(id);
  }
  const results = outcomes.map((o): UploadTransactionResult => (o.status === 'committed' ? { status: 'applied', write_checkpoint: writeCheckpoint!, replayed: o.replayed } : o));
  // The newest write checkpoint among the applied ones (a replayed one may carry an older one).
  for (const r of results) if (r.status === 'applied' && (writeCheckpoint === null || BigInt(r.write_checkpoint) > BigInt(writeCheckpoint))) writeCheckpoint = r.write_checkpoint;
  return { results, writeCheckpoint };
}

/**
 * One pass over the batch in one Postgres transaction, committed at the end. `optimistic`: no
 * savepoints, and undefined (everything rolled back, nothing recorded) as soon as a transaction
 * fails. `savepoints`: each transaction in its own savepoint; always an answer.
 */
async function runPass(ctx: BatchContext, user: Uploader, request: UploadRequest, ids: string[], mode: 'optimistic' | 'savepoints'): Promise<Outcome[] | undefined> {
  const outcomes: Outcome[] = [];
  const client = await ctx.source.connect();
  let open = false;
  try {
    await client.query('BEGIN');
    open = true;
    // Two attempts of one transaction (a client retrying while the first is still running, or a
    // new leader tab) take turns here; the second then finds the first's record. Locks are taken
    // in one order, so two overlapping batches cannot deadlock. An advisory lock writes nothing.
    await client.query(
      `SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtextextended('lockstep:upload:' || id, 0) AS h FROM unnest($1::text[]) AS id ORDER BY h OFFSET 0) AS locks`,
      [ids],
    );
    const earlier = await earlierOutcomes(ctx, user, ids);
    const xid = (await client.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid')).rows[0]!.xid;
    await markPending(ctx.storage, ids.filter((id) => !earlier.has(id)), user.id, request.client_id, xid);
    const tx = drizzle(client);
    const rejectedNow: Array<{ transactionId: string; outcome: { state: 'rejected'; error: UploadErrorBody } }> = [];
    for (const [i, transaction] of request.transactions.entries()) {
      const before = earlier.get(ids[i]!);
      if (before) {
        outcomes.push(before);
        continue;
      }
      const outcome = mode === 'optimistic' ? await applyOps(ctx, user, tx, transaction) : await applyInSavepoint(ctx, user, client, tx, transaction);
      if (mode === 'optimistic' && outcome.status !== 'committed') return undefined; // rolled back in finally
      outcomes.push(outcome);
      if (outcome.status === 'rejected') rejectedNow.push({ transactionId: ids[i]!, outcome: { state: 'rejected', error: outcome.error } });
      if (outcome.status === 'retry') break;
    }
    // This pass is the one answered: report its rejections (not those answered again from a record).
    for (const [i, outcome] of outcomes.entries()) {
      if (outcome.status === 'rejected' && (!earlier.has(ids[i]!) || outcome.error.code === UploadRejectionCode.idReused)) ctx.onRejected?.(user, request.transactions[i], outcome.error);
    }
    // Before the commit: a rejection is final whatever becomes of the commit, and a transaction
    // this batch did not apply must not look applied once `xid` has committed.
    await settle(ctx.storage, user.id, request.client_id, rejectedNow);
    const notApplied = ids.slice(outcomes.length);
    if (outcomes.at(-1)?.status === 'retry') notApplied.push(ids[outcomes.length - 1]!);
    await unmarkPending(ctx.storage, notApplied, xid);
    await client.query('COMMIT');
    open = false;
    return outcomes;
  } finally {
    if (open) await client.query('ROLLBACK').catch(() => undefined);
    client.release();
  }
}

/** Every op of one uploaded transaction through its table's handler; a failure is classified, not thrown. */
async function applyOps(ctx: BatchContext, user: Uploader, tx: UploadTx, transaction: UploadTransaction): Promise<Outcome> {
  try {
    for (const op of transaction.ops) {
      const handler = Object.hasOwn(ctx.tables, op.table) ? ctx.tables[op.table] : undefined;
      if (!handler) throw new UploadRejection(UploadRejectionCode.unknownTable, `Clients may not write table "${op.table}".`, { table: op.table });
      await handler.apply(user, tx, op);
    }
    return { status: 'committed', replayed: false };
  } catch (error: unknown) {
    const rejection = asRejection(error);
    if (rejection) return { status: 'rejected', error: rejection.toBody() };
    return { status: 'retry', error: { code: 'UPLOAD_UNAVAILABLE', message: `The upload could not be applied now: ${(error as Error).message}` } };
  }
}

/** One uploaded transaction inside its own savepoint, rolled back to it when it fails. */
async function applyInSavepoint(ctx: BatchContext, user: Uploader, client: pg.PoolClient, tx: UploadTx, transaction: UploadTransaction): Promise<Outcome> {
  await client.query('SAVEPOINT lockstep_upload');
  const outcome = await applyOps(ctx, user, tx, transaction);
  // When this fails (the connection is gone), the whole batch fails and is retried.
  await client.query(outcome.status === 'committed' ? 'RELEASE SAVEPOINT lockstep_upload' : 'ROLLBACK TO SAVEPOINT lockstep_upload');
  return outcome;
}

/** The answers for transaction ids seen before (by lower-case id); the others must be applied now. */
async function earlierOutcomes(ctx: BatchContext, user: Uploader, ids: readonly string[]): Promise<Map<string, Outcome>> {
  const records = await findUploadRecords(ctx.storage, ids);
  const out = new Map<string, Outcome>();
  for (const [id, record] of records) {
    const outcome = await earlierOutcome(ctx, user, record);
    if (outcome) out.set(id, outcome);
  }
  return out;
}

async function earlierOutcome(ctx: BatchContext, user: Uploader, previous: UploadRecord): Promise<Outcome | undefined> {
  if (previous.userId !== user.id) return { status: 'rejected', error: new UploadRejection(UploadRejectionCode.idReused, 'This transaction id belongs to another user.').toBody() };
  if (previous.state === 'applied') return { status: 'applied', write_checkpoint: previous.writeCheckpoint ?? '0', replayed: true };
  if (previous.state === 'rejected' && previous.error) return { status: 'rejected', error: previous.error };
  // The earlier attempt committed but its answer was lost: settle it, do not apply it again.
  if (previous.appXid && (await appTransactionStatus(ctx.source, previous.appXid)) === 'committed') return { status: 'committed', replayed: true };
  // Pending with an aborted (or forgotten) app transaction: apply it now.
  return undefined;
}

/**
 * Rejections are final: the app's own (UploadRejection), and Postgres refusing the data
 * (integrity constraints, class 23; invalid values, class 22). Anything else may pass on retry.
 */
function asRejection(error: unknown): UploadRejection | undefined {
  if (isUploadRejection(error)) return error;
  const pgError = (error as { cause?: unknown }).cause ?? error;
  const code = (pgError as { code?: unknown }).code;
  if (typeof code === 'string' && (code.startsWith('23') || code.startsWith('22'))) {
    const e = pgError as { message?: string; constraint?: string; table?: string; column?: string };
    return new UploadRejection(UploadRejectionCode.constraint, `Postgres refused the change: ${e.message ?? code}.`, { sqlstate: code, ...(e.constraint ? { constraint: e.constraint } : {}), ...(e.table ? { table: e.table } : {}) });
  }
  return undefined;
}
