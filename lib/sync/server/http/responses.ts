import { isLockstepError } from '@/lib/sync/errors';
import { MediaType, PROTOCOL_VERSION, SyncErrorCode, SyncHeader, SyncProtocolError, isSyncErrorCode } from '@/lib/sync/protocol';
import type { SyncServerLogger } from '../log';

/** Headers on every sync response: never cached, never transformed (compression would hold lines back). */
export const BASE_HEADERS: Readonly<Record<string, string>> = {
  'cache-control': 'no-store, no-transform',
  [SyncHeader.protocol]: String(PROTOCOL_VERSION),
};

/** A JSON response with the sync headers. */
export function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...BASE_HEADERS, [SyncHeader.contentType]: MediaType.json, ...headers } });
}

/**
 * Any error as the wire's JSON error response. A SyncProtocolError keeps its code, status and
 * message; a Lockstep error with a wire code (e.g. from a duplicate package copy) too; anything
 * else is logged and answered as a bare INTERNAL_ERROR (500), leaking no details.
 */
export function errorResponse(error: unknown, log: SyncServerLogger): Response {
  const wire = toProtocolError(error, log);
  const headers: Record<string, string> = {};
  if (wire.status === 401) {
    headers[SyncHeader.wwwAuthenticate] = wire.code === SyncErrorCode.tokenMissing || wire.code === SyncErrorCode.notSignedIn ? 'Bearer realm="lockstep"' : `Bearer realm="lockstep", error="invalid_token", error_description="${wire.code}"`;
  }
  if (wire.status >= 500) log.error('sync request failed', { code: wire.code, error });
  return jsonResponse(wire.toBody(), wire.status, headers);
}

/** The wire form of an error: itself when it carries a wire code, INTERNAL_ERROR otherwise. */
export function toProtocolError(error: unknown, log?: SyncServerLogger): SyncProtocolError {
  if (error instanceof SyncProtocolError) return error;
  if (isLockstepError(error) && isSyncErrorCode(error.code)) {
    return new SyncProtocolError(error.code, error.message, { cause: error, ...(error.details ? { details: error.details } : {}) });
  }
  if (log && !(isLockstepError(error) && error.code === SyncErrorCode.unavailable)) log.error('unexpected error in a sync request', { error });
  return new SyncProtocolError(SyncErrorCode.internal, 'The sync server failed to handle the request; see its log.', { cause: error });
}
