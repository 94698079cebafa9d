import * as z from 'zod/mini';
import './zod-messages';
import { LockstepError, type LockstepErrorOptions } from '@/lib/sync/errors';

/**
 * Error codes of the sync endpoints, each with its HTTP status. A refused request is answered
 * with that status and the JSON body `{ "error": { "code", "message", "details"? } }`; a stream
 * that fails after it started ends with an `error` line carrying the same object. Codes never
 * change meaning; messages may improve. docs/protocol.md#errors lists them with the fix for each.
 */
export const SyncErrorCode = {
  /** No `Authorization: Bearer <token>` header. */
  tokenMissing: 'AUTH_TOKEN_MISSING',
  /** The token is not a well-formed signed JWT, or its signature does not verify. */
  tokenInvalid: 'AUTH_TOKEN_INVALID',
  /** The token's `exp` has passed (or `nbf` not yet come). Fetch a new token. */
  tokenExpired: 'AUTH_TOKEN_EXPIRED',
  /** The token's `alg` is not on the server's allow-list (this includes `none`). */
  tokenAlgorithm: 'AUTH_TOKEN_ALGORITHM',
  /** A claim is wrong: `aud`, `iss`, `nbf` in the future, no `exp`, a missing or empty `sub`. */
  tokenClaims: 'AUTH_TOKEN_CLAIMS',
  /** GET /api/sync/token without a signed-in session. */
  notSignedIn: 'AUTH_NOT_SIGNED_IN',
  /** The request body is not JSON. */
  bodyMalformed: 'REQUEST_BODY_MALFORMED',
  /** The body is JSON but does not match the schema; `details.issues` names each field. */
  bodyInvalid: 'REQUEST_BODY_INVALID',
  /** The body is larger than SyncLimits.maxRequestBytes. */
  bodyTooLarge: 'REQUEST_BODY_TOO_LARGE',
  /** The body is not `application/json`. */
  contentType: 'REQUEST_CONTENT_TYPE',
  /** Bucket storage is unreachable, or no sync rules have been replicated yet. Retry with backoff. */
  unavailable: 'SYNC_UNAVAILABLE',
  /** A new version of the sync rules became active: reconnect; positions restart (stream line only). */
  rulesChanged: 'SYNC_RULES_CHANGED',
  /** The server is missing configuration (e.g. SYNC_JWT_SECRET in production). */
  misconfigured: 'SERVER_MISCONFIGURED',
  /** Anything else; the message says no more, the server log has the cause. */
  internal: 'INTERNAL_ERROR',
} as const;

export type SyncErrorCode = (typeof SyncErrorCode)[keyof typeof SyncErrorCode];

/** The HTTP status each code is sent with. */
export const SYNC_ERROR_STATUS: Readonly<Record<SyncErrorCode, number>> = {
  AUTH_TOKEN_MISSING: 401,
  AUTH_TOKEN_INVALID: 401,
  AUTH_TOKEN_EXPIRED: 401,
  AUTH_TOKEN_ALGORITHM: 401,
  AUTH_TOKEN_CLAIMS: 401,
  AUTH_NOT_SIGNED_IN: 401,
  REQUEST_BODY_MALFORMED: 400,
  REQUEST_BODY_INVALID: 400,
  REQUEST_BODY_TOO_LARGE: 413,
  REQUEST_CONTENT_TYPE: 415,
  SYNC_UNAVAILABLE: 503,
  SYNC_RULES_CHANGED: 409,
  SERVER_MISCONFIGURED: 500,
  INTERNAL_ERROR: 500,
};

/** Codes after which the client must get a new token before reconnecting. */
export const TOKEN_ERROR_CODES: ReadonlySet<string> = new Set([SyncErrorCode.tokenMissing, SyncErrorCode.tokenInvalid, SyncErrorCode.tokenExpired, SyncErrorCode.tokenAlgorithm, SyncErrorCode.tokenClaims]);

export const errorDetailSchema = z.object({
  code: z.string(),
  message: z.string(),
  details: z.optional(z.record(z.string(), z.unknown())),
});

/** The JSON body of every error response of the sync endpoints. */
export const errorBodySchema = z.object({ error: errorDetailSchema });

export type ErrorDetail = z.infer<typeof errorDetailSchema>;
export type ErrorBody = z.infer<typeof errorBodySchema>;

/**
 * An error with a wire code: thrown by the server to refuse a request, and built by clients from
 * an error response or line. Category 'auth' for AUTH_* codes, 'protocol' for the rest.
 */
export class SyncProtocolError extends LockstepError {
  override readonly code: SyncErrorCode;
  /** The HTTP status this error is (or was) sent with. */
  readonly status: number;

  constructor(code: SyncErrorCode, message: string, options?: LockstepErrorOptions) {
    super(code.startsWith('AUTH_') ? 'auth' : 'protocol', code, message, options);
    this.name = 'SyncProtocolError';
    this.code = code;
    this.status = SYNC_ERROR_STATUS[code];
  }

  /** The error as sent on the wire. */
  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) } };
  }
}

/** True when `code` is one of this protocol version's error codes. */
export function isSyncErrorCode(code: unknown): code is SyncErrorCode {
  return typeof code === 'string' && Object.hasOwn(SYNC_ERROR_STATUS, code);
}
