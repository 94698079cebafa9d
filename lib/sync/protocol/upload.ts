import { z } from 'zod';

/**
 * The upload wire: what the client's upload queue sends to the app's upload server action, one
 * local transaction per call, and what it gets back. docs/writes.md is the prose version.
 */

/** Limits of one uploaded transaction. */
export const UploadLimits = {
  /** Ops in one transaction. */
  maxOps: 1000,
  /** Length of a table name, a row id, a client id. */
  maxNameLength: 256,
} as const;

const tableName = z.string().min(1).max(UploadLimits.maxNameLength);
const rowId = z.string().min(1).max(UploadLimits.maxNameLength);
/** Column values as the client holds them (its SQLite row): strings, numbers, booleans, null. */
const rowData = z.record(z.string().min(1).max(UploadLimits.maxNameLength), z.unknown());

/** One changed row. PUT carries the whole row, PATCH only the changed columns, DELETE none. */
export const uploadOpSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('PUT'), table: tableName, id: rowId, data: rowData }).strict(),
  z.object({ op: z.literal('PATCH'), table: tableName, id: rowId, data: rowData }).strict(),
  z.object({ op: z.literal('DELETE'), table: tableName, id: rowId }).strict(),
]);
export type UploadOp = z.infer<typeof uploadOpSchema>;

/** One local transaction. `id` is its idempotency key: a retried transaction is applied once. */
export const uploadTransactionSchema = z
  .object({
    id: z.uuid(),
    ops: z.array(uploadOpSchema).min(1).max(UploadLimits.maxOps),
  })
  .strict();
export type UploadTransaction = z.infer<typeof uploadTransactionSchema>;

export const uploadRequestSchema = z
  .object({
    client_id: z.string().min(1).max(UploadLimits.maxNameLength),
    transaction: uploadTransactionSchema,
  })
  .strict();
export type UploadRequest = z.infer<typeof uploadRequestSchema>;

/** Why the server refused a transaction for good. The client drops it and reports it. */
export const UploadRejectionCode = {
  /** The request does not match uploadRequestSchema; `details.issues` names each field. */
  invalidRequest: 'UPLOAD_INVALID_REQUEST',
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
 * - `applied`: committed to Postgres; keep the optimistic state until a checkpoint whose
 *   write_checkpoint >= `write_checkpoint` arrives. `replayed` when this id had been applied before.
 * - `rejected`: refused for good and nothing written; drop the transaction, report it, and the
 *   local state returns to the server's at the next checkpoint.
 * - `retry`: a transient failure (database unavailable, serialization conflict); send it again later.
 */
export type UploadResult =
  | { status: 'applied'; write_checkpoint: string; replayed: boolean }
  | { status: 'rejected'; error: UploadErrorBody }
  | { status: 'retry'; error: UploadErrorBody };
