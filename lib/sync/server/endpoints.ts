import type pg from 'pg';
import { SyncErrorCode, SyncProtocolError, writeCheckpointRequestSchema, type Jwks, type SyncTokenResponse, type WriteCheckpointResponse } from '@/lib/sync/protocol';
import { createWriteCheckpoint } from '@/lib/sync/storage';
import { authenticate } from './auth/bearer';
import type { SyncAuthConfig } from './auth/config';
import { signSyncToken } from './auth/tokens';
import { parseBody, readJsonBody } from './http/read-body';
import { errorResponse, jsonResponse } from './http/responses';
import type { SyncServerLogger } from './log';

/** The small endpoints next to the stream: sync tokens, write checkpoints, the JWKS. */

/** What GET /api/sync/token needs of a session: next-auth's, or any other with a user id. */
export interface SessionLike {
  user?: { id?: string | null } | null;
}

/** App-defined claims for a user's sync token (read by the sync rules as token claims). */
export type TokenClaimsFn = (session: SessionLike & { user: { id: string } }) => Record<string, unknown> | Promise<Record<string, unknown>>;

/**
 * GET /api/sync/token: a short-lived sync token for the signed-in user, `{ token, expires_at }`;
 * 401 AUTH_NOT_SIGNED_IN without a session.
 */
export async function handleTokenRequest(session: SessionLike | null, deps: { auth: () => Promise<SyncAuthConfig>; claims?: TokenClaimsFn; log: SyncServerLogger }): Promise<Response> {
  try {
    const id = session?.user?.id;
    if (typeof id !== 'string' || id.length === 0) throw new SyncProtocolError(SyncErrorCode.notSignedIn, 'Sign in first: sync tokens are issued to signed-in users only.');
    const user = { ...session, user: { ...session?.user, id } };
    const { token, expiresAt } = await signSyncToken(await deps.auth(), { sub: id, claims: deps.claims ? await deps.claims(user) : {} });
    const body: SyncTokenResponse = { token, expires_at: expiresAt.toISOString() };
    return jsonResponse(body);
  } catch (error: unknown) {
    return errorResponse(error, deps.log);
  }
}

/**
 * Records that this client's writes so far are committed: the app database's WAL position now
 * (so call it after the write transaction committed) is stored for (user, client). The first
 * checkpoint at or past that position carries `write_checkpoint` >= the returned id.
 *
 * @example
 *   // in the upload server action, after the transaction:
 *   const id = await recordWriteCheckpoint(appPool(), storagePool, session.user.id, clientId);
 */
export async function recordWriteCheckpoint(source: pg.Pool, storage: pg.Pool, userId: string, clientId: string): Promise<number> {
  // The insert position, not pg_current_wal_lsn(): with synchronous_commit=off a commit can
  // return before its WAL is written, and the write position would then be behind it. When other
  // WAL follows, the replicator makes a checkpoint at or past this LSN that keeps the op id, and
  // the stream sends it to this client as a checkpoint_diff carrying the write checkpoint.
  const { rows } = await source.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
  return createWriteCheckpoint(storage, userId, clientId, rows[0]!.lsn);
}

/** POST /api/sync/write-checkpoint: bearer sync token, body `{ client_id }`, answers `{ write_checkpoint }`. */
export async function handleWriteCheckpoint(request: Request, deps: { auth: () => Promise<SyncAuthConfig>; source: () => pg.Pool; storage: pg.Pool; log: SyncServerLogger }): Promise<Response> {
  try {
    const claims = await authenticate(request, await deps.auth());
    const body = parseBody(writeCheckpointRequestSchema, await readJsonBody(request));
    const id = await recordWriteCheckpoint(deps.source(), deps.storage, claims.sub, body.client_id);
    const answer: WriteCheckpointResponse = { write_checkpoint: String(id) };
    return jsonResponse(answer);
  } catch (error: unknown) {
    return errorResponse(error, deps.log);
  }
}

/** GET /api/sync/jwks: the public key when tokens are signed with one; `{ keys: [] }` with a shared secret. */
export async function handleJwks(deps: { auth: () => Promise<SyncAuthConfig>; log: SyncServerLogger }): Promise<Response> {
  try {
    const auth = await deps.auth();
    const body: Jwks = { keys: auth.publicJwk ? [{ ...auth.publicJwk }] : [] };
    return jsonResponse(body, 200, { 'cache-control': 'public, max-age=300' });
  } catch (error: unknown) {
    return errorResponse(error, deps.log);
  }
}
