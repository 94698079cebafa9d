import { SyncErrorCode, SyncHeader, SyncProtocolError } from '@/lib/sync/protocol';
import type { SyncAuthConfig } from './config';
import { verifySyncToken, type SyncTokenClaims } from './tokens';

/** A JWT is three base64url parts; anything longer than this is not one of ours. */
const MAX_TOKEN_LENGTH = 16 * 1024;
const BEARER = /^Bearer[ ]+([A-Za-z0-9\-_.~+/]+=*)[ ]*$/i;

/** The token of an `Authorization: Bearer <token>` header; throws AUTH_TOKEN_MISSING or AUTH_TOKEN_INVALID. */
export function bearerToken(request: Request): string {
  const header = request.headers.get(SyncHeader.authorization);
  if (header === null || header.trim() === '') {
    throw new SyncProtocolError(SyncErrorCode.tokenMissing, 'Send the sync token as "Authorization: Bearer <token>" (GET /api/sync/token issues one).');
  }
  const match = header.length <= MAX_TOKEN_LENGTH ? BEARER.exec(header) : null;
  if (!match) throw new SyncProtocolError(SyncErrorCode.tokenInvalid, 'The Authorization header is not "Bearer <token>".');
  return match[1]!;
}

/**
 * Verifies the request's bearer sync token and returns its claims; throws a SyncProtocolError
 * (HTTP 401) otherwise.
 *
 * @example
 *   const claims = await authenticate(request, auth); // claims.sub: the user id
 */
export async function authenticate(request: Request, auth: SyncAuthConfig): Promise<SyncTokenClaims> {
  return verifySyncToken(auth, bearerToken(request));
}
