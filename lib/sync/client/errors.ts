import { LockstepError, type LockstepErrorCategory, type LockstepErrorOptions } from '@/lib/sync/errors';

/**
 * Errors of the sync client (lib/sync/client). Each has a stable `code`; check it (or `name`),
 * never only `instanceof`: these errors cross the worker boundary and tabs as plain objects.
 */
export const ClientErrorCode = {
  /** sqlite-wasm could not be loaded (the files under public/sqlite are missing or stale). */
  sqliteLoad: 'CLIENT_SQLITE_LOAD_FAILED',
  /** A SQL statement failed; `details.sql` names it. */
  query: 'CLIENT_QUERY_FAILED',
  /** The server sent a line that breaks the protocol's order (e.g. data for a bucket not in the checkpoint). */
  protocol: 'CLIENT_PROTOCOL_VIOLATION',
  /** A bucket's checksum did not match the checkpoint: the bucket is dropped and downloaded again. */
  checksum: 'CLIENT_CHECKSUM_MISMATCH',
  /** The stream could not be opened or broke off (network, HTTP status other than 200). */
  stream: 'CLIENT_STREAM_FAILED',
  /** No sync token could be obtained (not signed in, or the token endpoint failed). */
  token: 'CLIENT_TOKEN_UNAVAILABLE',
  /** The client was closed; calls made after close() fail with this code. */
  closed: 'CLIENT_CLOSED',
  /** The tab leading the database went away while a call was in flight and it could not be retried. */
  leaderLost: 'CLIENT_LEADER_LOST',
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

const CATEGORY: Record<ClientErrorCode, LockstepErrorCategory> = {
  CLIENT_SQLITE_LOAD_FAILED: 'setup',
  CLIENT_QUERY_FAILED: 'protocol',
  CLIENT_PROTOCOL_VIOLATION: 'protocol',
  CLIENT_CHECKSUM_MISMATCH: 'protocol',
  CLIENT_STREAM_FAILED: 'protocol',
  CLIENT_TOKEN_UNAVAILABLE: 'auth',
  CLIENT_CLOSED: 'setup',
  CLIENT_LEADER_LOST: 'setup',
};

export class SyncClientError extends LockstepError {
  override readonly code: ClientErrorCode;

  constructor(code: ClientErrorCode, message: string, options?: LockstepErrorOptions) {
    super(CATEGORY[code], code, message, options);
    this.name = 'SyncClientError';
    this.code = code;
  }
}

/** An error as it travels between worker, tabs and React: plain data, no prototype. */
export interface SerializedError {
  name: string;
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** Any thrown value as a SerializedError (code `CLIENT_QUERY_FAILED` when it has none). */
export function serializeError(error: unknown): SerializedError {
  if (typeof error === 'object' && error !== null) {
    const e = error as { name?: unknown; code?: unknown; message?: unknown; details?: unknown };
    return {
      name: typeof e.name === 'string' ? e.name : 'Error',
      code: typeof e.code === 'string' ? e.code : ClientErrorCode.query,
      message: typeof e.message === 'string' ? e.message : String(error),
      ...(typeof e.details === 'object' && e.details !== null ? { details: e.details as Record<string, unknown> } : {}),
    };
  }
  return { name: 'Error', code: ClientErrorCode.query, message: String(error) };
}

/** Rebuilds a thrown error from a SerializedError (it keeps name, code and details). */
export function deserializeError(error: SerializedError): Error {
  const e = new Error(error.message) as Error & { code: string; details?: Record<string, unknown>; category: string };
  e.name = error.name;
  e.code = error.code;
  e.category = 'protocol';
  if (error.details) e.details = error.details;
  return e;
}
