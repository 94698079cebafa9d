import * as z from 'zod/mini';
import './zod-messages';

/**
 * The upload wire: what the client's upload queue sends to the app's upload server action, a
 * batch of local transactions per call in queue order, and what it gets back. docs/writes.md is
 * the prose version.
 */

/** Limits of one upload call; a request past them is refused whole (UPLOAD_BATCH_TOO_LARGE). */
export const UploadLimits = {
  /** Ops in one transaction. */
  maxOps: 1000,
  /** Transactions in one batch. */
  maxTransactions: 1000,
  /** Ops in one batch, all transactions together. */
  maxBatchOps: 10_000,
  /** The batch's size as JSON text (UTF-8 bytes). */
  maxBatchBytes: 1024 * 1024,
  /** Length of a table name, a row id, a client id. */
  maxNameLength: 256,
} as const;

/** A table name, a row id, a column name, a client id. */
const name = z.string().check(z.minLength(1), z.maxLength(UploadLimits.maxNameLength));
/** Column values as the client holds them (its SQLite row): strings, numbers, booleans, null. */
const rowData = z.record(name, z.unknown());

/** One changed row. PUT carries the whole row, PATCH only the changed columns, DELETE none. */
export const uploadOpSchema = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('PUT'), table: name, id: name, data: rowData }),
  z.strictObject({ op: z.literal('PATCH'), table: name, id: name, data: rowData }),
  z.strictObject({ op: z.literal('DELETE'), table: name, id: name }),
]);
export type UploadOp = z.infer<typeof uploadOpSchema>;

/** One local transaction. `id` is its idempotency key: a retried transaction is applied once. */
export const uploadTransactionSchema = z.strictObject({
  id: z.uuid(),
  ops: z.array(uploadOpSchema).check(z.minLength(1), z.maxLength(UploadLimits.maxOps)),
});
export type UploadTransaction = z.infer<typeof uploadTransactionSchema>;

/**
 * A batch: local transactions in queue order, each applied atomically and in order on its own.
 * Counts and sizes are checked apart (UPLOAD_BATCH_TOO_LARGE), so the schema takes any number.
 */
export const uploadRequestSchema = z
  .strictObject({
    client_id: name,
    transactions: z.array(uploadTransactionSchema).check(z.minLength(1)),
  })
  .check(
    z.superRefine((request, ctx) => {
      const seen = new Set<string>();
      request.transactions.forEach((t, i) => {
        const id = t.id.toLowerCase();
        if (seen.has(id)) ctx.addIssue({ code: 'custom', path: ['transactions', i, 'id'], message: 'the same transaction id twice in one batch' });
        seen.add(id);
      });
    }),
  );
export type UploadRequest = z.infer<typeof uploadRequestSchema>;

/** One transaction per call: what clients before batching send. The server still accepts it. */
export const uploadSingleRequestSchema = z.strictObject({ client_id: name, transaction: uploadTransactionSchema });
export type UploadSingleRequest = z.infer<typeof uploadSingleRequestSchema>;

/** Why the server refused a transaction for good. The client drops it and reports it. */
export const UploadRejectionCode = {
  /** The request does not match uploadRequestSchema; `details.issues` names each field. Nothing is written. */
  invalidRequest: 'UPLOAD_INVALID_REQUEST',
  /** The batch is past UploadLimits (transactions, ops or bytes; `details` says which). Nothing is written. */
  batchTooLarge: 'UPLOAD_BATCH_TOO_LARGE',
  /** An op names a table the app accepts no writes for. */
  unknownTable: 'UPLOAD_UNKNOWN_TABLE',
  /** A row's data fails the table's schema (unknown column, wrong type, missing value). */
  invalidRow: 'UPLOAD_INVALID_ROW',
  /** The app's authorization refused an op. */
  forbidden: 'UPLOAD_FORBIDDEN',
  /** The app's own logic refused it (a conflict it decided, a business rule). */
  conflict: 'UPLOAD_CONFLICT',
  /** Postgres refused it: a constraint (foreign key, unique, check) or a value it cannot store. */
  constraint: 'UPLOAD_CONSTRAINT',
  /** The transaction id was already used by another user. */
  idReused: 'UPLOAD_ID_REUSED',
} as const;
export type UploadRejectionCode = (typeof UploadRejectionCode)[keyof typeof UploadRejectionCode];

export interface UploadErrorBody {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/**
 * The answer for one transaction of a batch:
 * - `applied`: committed to Postgres; keep the optimistic state until a checkpoint whose
 *   write_checkpoint >= `write_checkpoint` arrives. `replayed` when this id had been applied before.
 * - `rejected`: refused for good and nothing of it written; drop the transaction, report it, and
 *   the local state returns to the server's at the next checkpoint.
 * - `retry`: a transient failure (database unavailable, serialization conflict); send it again
 *   later. The server stopped here: the batch's later transactions were not tried.
 */
export type UploadTransactionResult =
  | { status: 'applied'; write_checkpoint: string; replayed: boolean }
  | { status: 'rejected'; error: UploadErrorBody }
  | { status: 'retry'; error: UploadErrorBody };

/**
 * The answer to one upload call:
 * - `results`: `results[i]` answers `transactions[i]`, in order; it ends early after a `retry`
 *   (the rest were not tried). `write_checkpoint` is the newest write checkpoint of the applied
 *   ones (one per batch, covering them all), null when none was applied.
 * - `rejected`: the request itself was refused (not signed in, malformed, past UploadLimits):
 *   nothing was written. The client sends fewer transactions at once down to one, and rejects
 *   a lone transaction refused this way.
 * - `retry`: nothing is known to be applied; send the same transactions again later.
 * - `applied`: only to the one-transaction request of older clients (uploadSingleRequestSchema),
 *   whose answer is that transaction's result.
 */
export type UploadResult =
  | { status: 'results'; results: UploadTransactionResult[]; write_checkpoint: string | null }
  | { status: 'rejected'; error: UploadErrorBody }
  | { status: 'retry'; error: UploadErrorBody }
  | { status: 'applied'; write_checkpoint: string; replayed: boolean };
