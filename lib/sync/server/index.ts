/**
 * The sync server: sync tokens, the authenticated NDJSON stream of checkpoints and bucket data,
 * write checkpoints and the JWKS, as fetch-style handlers for Next route handlers (or node:http
 * through toNodeListener). Server code only. docs/protocol.md describes the wire, docs/auth.md
 * the tokens.
 */
export { SyncServer, DEFAULT_KEEPALIVE_MS, DEFAULT_PAGE, type SyncServerOptions } from './sync-server';
export { syncServerFromEnv, storageUrlFromEnv, withSyncServer } from './from-env';
export { keyPairAuth, secretAuth, syncAuthFromEnv, SYNC_TOKEN_DEFAULTS, type SyncAlgorithm, type SyncAuthConfig } from './auth/config';
export { signSyncToken, verifySyncToken, type SignSyncTokenInput, type SyncTokenClaims } from './auth/tokens';
export { authenticate, bearerToken } from './auth/bearer';
export { localDataDir, localSecret } from './auth/local-secret';
export { recordWriteCheckpoint, type SessionLike, type TokenClaimsFn } from './endpoints';
export { toNodeListener, type FetchHandler } from './http/node-adapter';
export { consoleLogger, silentServerLogger, type SyncServerLogger } from './log';
