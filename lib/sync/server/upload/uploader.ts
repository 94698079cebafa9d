import type pg from 'pg';
import type * as z from 'zod/mini';
import { UploadLimits, UploadRejectionCode, uploadRequestSchema, uploadSingleRequestSchema, type UploadErrorBody, type UploadRequest, type UploadResult, type UploadTransaction } from '@/lib/sync/protocol';
import { applyBatch } from './batch';
import { pruneUploadRecords } from './idempotency';
import type { TableUploadHandler, Uploader } from './table-handler';

export interface UploaderOptions {
  /** The app database (DATABASE_URL). */
  source: () => pg.Pool;
  /** Bucket storage (SYNC_DATABASE_URL): write checkpoints and upload records. */
  storage: () => pg.Pool;
  /** The tables clients may write, by client table name. Others are refused. */
  tables: Record<string, TableUploadHandler>;
  /**
   * Told about every rejection (logging, metrics); the client reports it to the user too.
   * `transaction` is undefined when the whole request was refused.
   */
  onRejected?: (user: Uploader, transaction: UploadTransaction | undefined, error: UploadErrorBody) => void;
}

export type UploadFn = (user: Uploader | null | undefined, input: unknown) => Promise<UploadResult>;

/**
 * The server half of the upload queue, for the app's upload server action: validates a batch of
 * uploaded transactions (uploadRequestSchema, within UploadLimits), then applies each in order
 * and atomically, running every op through its table's handler (validation, the app's
 * authorization, the write), and answers with a result per transaction and one write checkpoint
 * covering the applied ones. A transaction id already applied is answered again without
 * applying it twice. The one-transaction request of older clients is answered in its own form.
 * See docs/writes.md.
 *
 * @example
 *   const upload = createUploader({ source: appPool, storage: storagePool, tables: { todos: tableHandler(todos, { authorize }) } });
 *   export async function uploadAction(input: unknown) { return upload(await currentUser(), input); }
 */
export function createUploader(options: UploaderOptions): UploadFn {
  let uploads = 0;
  return async (user, input) => {
    if (!user?.id) return { status: 'rejected', error: { code: 'AUTH_NOT_SIGNED_IN', message: 'Sign in to upload changes.' } };
    const single = isSingleRequest(input);
    const parsed = parseRequest(input, single);
    if ('error' in parsed) {
      options.onRejected?.(user, undefined, parsed.error);
      return { status: 'rejected', error: parsed.error };
    }
    const request = parsed.request;
    try {
      uploads += request.transactions.length;
      if (uploads >= 1000) {
        uploads = 0;
        await pruneUploadRecords(options.storage());
      }
      const { results, writeCheckpoint } = await applyBatch({ source: options.source(), storage: options.storage(), tables: options.tables, ...(options.onRejected ? { onRejected: options.onRejected } : {}) }, user, request);
      if (single) return results[0]!;
      return { status: 'results', results, write_checkpoint: writeCheckpoint };
    } catch (error: unknown) {
      return { status: 'retry', error: { code: 'UPLOAD_UNAVAILABLE', message: `The upload could not be applied now: ${(error as Error).message}` } };
    }
  };
}

function isSingleRequest(input: unknown): boolean {
  return typeof input === 'object' && input !== null && 'transaction' in input && !('transactions' in input);
}

/** The request as a batch, or why it is refused whole (nothing is written then). */
function parseRequest(input: unknown, single: boolean): { request: UploadRequest } | { error: UploadErrorBody } {
  // Size first: the schema's work grows with the input.
  const bytes = jsonBytes(input);
  if (bytes > UploadLimits.maxBatchBytes) return { error: tooLarge(`The upload is ${bytes} bytes of JSON; at most ${UploadLimits.maxBatchBytes} are taken at once.`, { bytes, maxBytes: UploadLimits.maxBatchBytes }) };
  if (single) {
    const one = uploadSingleRequestSchema.safeParse(input);
    return one.success ? { request: { client_id: one.data.client_id, transactions: [one.data.transaction] } } : { error: invalid(one.error) };
  }
  const count = countTransactions(input);
  if (count > UploadLimits.maxTransactions) return { error: tooLarge(`The upload carries ${count} transactions; at most ${UploadLimits.maxTransactions} are taken at once.`, { transactions: count, maxTransactions: UploadLimits.maxTransactions }) };
  const parsed = uploadRequestSchema.safeParse(input);
  if (!parsed.success) return { error: invalid(parsed.error) };
  const ops = parsed.data.transactions.reduce((n, t) => n + t.ops.length, 0);
  if (ops > UploadLimits.maxBatchOps) return { error: tooLarge(`The upload carries ${ops} ops; at most ${UploadLimits.maxBatchOps} are taken at once.`, { ops, maxOps: UploadLimits.maxBatchOps }) };
  return { request: parsed.data };
}

function invalid(error: z.core.$ZodError): UploadErrorBody {
  return { code: UploadRejectionCode.invalidRequest, message: 'The upload does not match the upload schema.', details: { issues: error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) } };
}

function tooLarge(message: string, details: Record<string, unknown>): UploadErrorBody {
  return { code: UploadRejectionCode.batchTooLarge, message: `${message} Send fewer transactions per call.`, details };
}

function countTransactions(input: unknown): number {
  const transactions = (input as { transactions?: unknown } | null)?.transactions;
  return Array.isArray(transactions) ? transactions.length : 0;
}

/** The input's size as JSON (UTF-8 bytes); what cannot be JSON counts as 0 and fails the schema. */
function jsonBytes(input: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(input) ?? '');
  } catch {
    return 0;
  }
}
