import { drizzle } from 'drizzle-orm/node-postgres';
import type pg from 'pg';
import { UploadRejectionCode, uploadRequestSchema, type UploadErrorBody, type UploadRequest, type UploadResult } from '@/lib/sync/protocol';
import { createWriteCheckpoint } from '@/lib/sync/storage';
import { appTransactionStatus, findUploadRecord, markPending, pruneUploadRecords, settle } from './idempotency';
import { isUploadRejection, UploadRejection } from './rejection';
import type { TableUploadHandler, Uploader } from './table-handler';

export interface UploaderOptions {
  /** The app database (DATABASE_URL). */
  source: () => pg.Pool;
  /** Bucket storage (SYNC_DATABASE_URL): write checkpoints and upload records. */
  storage: () => pg.Pool;
  /** The tables clients may write, by client table name. Others are refused. */
  tables: Record<string, TableUploadHandler>;
  /** Told about every rejection (logging, metrics); the client reports it to the user too. */
  onRejected?: (user: Uploader, request: UploadRequest | undefined, error: UploadErrorBody) => void;
}

export type UploadFn = (user: Uploader | null | undefined, input: unknown) => Promise<UploadResult>;

/**
 * The server half of the upload queue, for the app's upload server action: validates one uploaded
 * transaction, runs every op through its table's handler (validation, the app's authorization,
 * the write) in ONE Postgres transaction, and answers with a write checkpoint. A transaction id
 * already applied is answered again without applying it twice (see docs/writes.md).
 *
 * @example
 *   const upload = createUploader({ source: appPool, storage: storagePool, tables: { todos: tableHandler(todos, { authorize }) } });
 *   export async function uploadAction(input: unknown) { return upload(await currentUser(), input); }
 */
export function createUploader(options: UploaderOptions): UploadFn {
  let uploads = 0;
  return async (user, input) => {
    if (!user?.id) return { status: 'rejected', error: { code: 'AUTH_NOT_SIGNED_IN', message: 'Sign in to upload changes.' } };
    const parsed = uploadRequestSchema.safeParse(input);
    if (!parsed.success) {
      const error = { code: UploadRejectionCode.invalidRequest, message: 'The upload does not match the upload schema.', details: { issues: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) } };
      options.onRejected?.(user, undefined, error);
      return { status: 'rejected', error };
    }
    const request = parsed.data;
    try {
      if (++uploads % 1000 === 0) await pruneUploadRecords(options.storage());
      return await applyOnce(options, user, request);
    } catch (error: unknown) {
      return { status: 'retry', error: { code: 'UPLOAD_UNAVAILABLE', message: `The upload could not be applied now: ${(error as Error).message}` } };
    }
  };
}

async function applyOnce(options: UploaderOptions, user: Uploader, request: UploadRequest): Promise<UploadResult> {
  const storage = options.storage();
  const txId = request.transaction.id;
  const client = await options.source().connect();
  let done = false;
  try {
    await client.query('BEGIN');
    // Two attempts of one transaction (a client retrying while the first is still running) take
    // turns here; the second then finds the first's record. An advisory lock writes nothing.
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended('lockstep:upload:' || $1, 0))", [txId]);
    const earlier = await earlierOutcome(options, user, request);
    if (earlier) {
      await client.query('ROLLBACK');
      done = true;
      return earlier;
    }
    const xid = (await client.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid')).rows[0]!.xid;
    await markPending(storage, txId, user.id, request.client_id, xid);
    const tx = drizzle(client);
    try {
      for (const op of request.transaction.ops) {
        const handler = Object.hasOwn(options.tables, op.table) ? options.tables[op.table] : undefined;
        if (!handler) throw new UploadRejection(UploadRejectionCode.unknownTable, `Clients may not write table "${op.table}".`, { table: op.table });
        await handler.apply(user, tx, op);
      }
      await client.query('COMMIT');
      done = true;
    } catch (error: unknown) {
      await client.query('ROLLBACK').catch(() => undefined);
      done = true;
      const rejection = asRejection(error);
      if (!rejection) throw error;
      return rejected(options, user, request, rejection);
    }
  } finally {
    if (!done) await client.query('ROLLBACK').catch(() => undefined);
    client.release();
  }
  const writeCheckpoint = await checkpointWrites(options, user, request);
  return { status: 'applied', write_checkpoint: String(writeCheckpoint), replayed: false };
}

/** The answer for a transaction id seen before, or undefined when it must be applied now. */
async function earlierOutcome(options: UploaderOptions, user: Uploader, request: UploadRequest): Promise<UploadResult | undefined> {
  const previous = await findUploadRecord(options.storage(), request.transaction.id);
  if (!previous) return undefined;
  if (previous.userId !== user.id) {
    return rejected(options, user, request, new UploadRejection(UploadRejectionCode.idReused, 'This transaction id belongs to another user.'));
  }
  if (previous.state === 'applied') return { status: 'applied', write_checkpoint: previous.writeCheckpoint ?? '0', replayed: true };
  if (previous.state === 'rejected' && previous.error) return { status: 'rejected', error: previous.error };
  if (previous.appXid && (await appTransactionStatus(options.source(), previous.appXid)) === 'committed') {
    // The earlier attempt committed but its answer was lost: settle it, do not apply it again.
    const writeCheckpoint = await checkpointWrites(options, user, request);
    return { status: 'applied', write_checkpoint: String(writeCheckpoint), replayed: true };
  }
  // Pending with an aborted (or forgotten) app transaction: apply it now.
  return undefined;
}

/** After the commit: a write checkpoint past it, and the record settled as applied. */
async function checkpointWrites(options: UploaderOptions, user: Uploader, request: UploadRequest): Promise<number> {
  // The insert position is past the commit record even with synchronous_commit=off.
  const { rows } = await options.source().query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
  const id = await createWriteCheckpoint(options.storage(), user.id, request.client_id, rows[0]!.lsn);
  await settle(options.storage(), request.transaction.id, user.id, request.client_id, { state: 'applied', writeCheckpoint: id });
  return id;
}

async function rejected(options: UploaderOptions, user: Uploader, request: UploadRequest, rejection: UploadRejection): Promise<UploadResult> {
  const error = rejection.toBody();
  if (rejection.code !== UploadRejectionCode.idReused) await settle(options.storage(), request.transaction.id, user.id, request.client_id, { state: 'rejected', error });
  options.onRejected?.(user, request, error);
  return { status: 'rejected', error };
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
