import { jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { LockstepError } from '@/lib/sync/errors';
import { SyncErrorCode, SyncProtocolError } from '@/lib/sync/protocol';
import type { SyncAuthConfig } from './config';

/** Claims of a verified sync token: `sub` is the user id; app-defined claims ride along for the sync rules. */
export interface SyncTokenClaims extends JWTPayload {
  sub: string;
  exp: number;
}

export interface SignSyncTokenInput {
  /** The user id; the sync rules see it as `token.sub`. */
  sub: string;
  /** App-defined claims the sync rules may read (`token.claim('org')`); JSON values only. */
  claims?: Record<string, unknown>;
  /** Lifetime; defaults to the config's ttlSeconds. */
  ttlSeconds?: number;
  /** Clock, for tests. */
  now?: Date;
}

/** Claims the server sets itself; apps cannot put these in `claims`. */
const RESERVED = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti']);

/**
 * Signs a sync token for `sub`. Returns the JWT and when it expires.
 *
 * @example
 *   const { token, expiresAt } = await signSyncToken(auth, { sub: user.id, claims: { org: user.orgId } });
 */
export async function signSyncToken(auth: SyncAuthConfig, input: SignSyncTokenInput): Promise<{ token: string; expiresAt: Date }> {
  if (typeof input.sub !== 'string' || input.sub.length === 0) throw new LockstepError('auth', 'SYNC_TOKEN_SUBJECT', 'A sync token needs a non-empty subject (the user id).');
  const reserved = Object.keys(input.claims ?? {}).filter((claim) => RESERVED.has(claim));
  if (reserved.length > 0) {
    throw new LockstepError('auth', 'SYNC_TOKEN_CLAIM_RESERVED', `Claim(s) ${reserved.join(', ')} are set by the server and cannot be app-defined; rename them.`, { details: { reserved } });
  }
  const issuedAt = Math.floor((input.now ?? new Date()).getTime() / 1000);
  const exp = issuedAt + (input.ttlSeconds ?? auth.ttlSeconds);
  const token = await new SignJWT({ ...input.claims })
    .setProtectedHeader({ alg: auth.algorithm, typ: 'JWT', ...(auth.kid ? { kid: auth.kid } : {}) })
    .setSubject(input.sub)
    .setIssuer(auth.issuer)
    .setAudience(auth.audience)
    .setIssuedAt(issuedAt)
    .setExpirationTime(exp)
    .sign(auth.signingKey);
  return { token, expiresAt: new Date(exp * 1000) };
}

/**
 * Verifies a sync token: signature, the algorithm allow-list (the configured one only), `exp`
 * (required), `nbf`, `aud`, `iss` and a non-empty `sub`. Throws a SyncProtocolError with an
 * AUTH_TOKEN_* code saying which check failed.
 *
 * @example
 *   const claims = await verifySyncToken(auth, bearer); // claims.sub is the user id
 */
export async function verifySyncToken(auth: SyncAuthConfig, token: string, options: { now?: Date } = {}): Promise<SyncTokenClaims> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, auth.verificationKey, {
      algorithms: [auth.algorithm],
      audience: auth.audience,
      issuer: auth.issuer,
      requiredClaims: ['exp', 'sub'],
      clockTolerance: auth.clockToleranceSeconds,
      ...(options.now ? { currentDate: options.now } : {}),
    }));
  } catch (cause: unknown) {
    throw tokenError(cause);
  }
  if (typeof payload.sub !== 'string' || payload.sub.length === 0) throw new SyncProtocolError(SyncErrorCode.tokenClaims, 'The sync token has no subject (sub).');
  return payload as SyncTokenClaims;
}

function tokenError(cause: unknown): SyncProtocolError {
  const { code, claim } = (cause ?? {}) as { code?: string; claim?: string };
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return new SyncProtocolError(SyncErrorCode.tokenExpired, 'The sync token has expired; fetch a new one.', { cause });
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return new SyncProtocolError(SyncErrorCode.tokenAlgorithm, 'The sync token is signed with an algorithm this server does not accept.', { cause });
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return new SyncProtocolError(SyncErrorCode.tokenClaims, `The sync token's "${claim ?? 'unknown'}" claim is not valid for this server.`, { cause, details: { claim } });
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return new SyncProtocolError(SyncErrorCode.tokenInvalid, 'The sync token signature does not verify.', { cause });
    default:
      return new SyncProtocolError(SyncErrorCode.tokenInvalid, 'The sync token is not a valid signed JWT.', { cause });
  }
}
