import { databaseName, withDatabase } from '@/lib/db/postgres/admin';
import { compileSyncRules, type CompiledSyncRules } from '@/lib/sync/config';
import { SyncErrorCode, SyncProtocolError } from '@/lib/sync/protocol';
import { errorResponse } from './http/responses';
import { consoleLogger } from './log';
import { SyncServer, type SyncServerOptions } from './sync-server';

/**
 * The process-wide SyncServer of a Next app, configured from the environment (DATABASE_URL,
 * SYNC_DATABASE_URL, SYNC_JWT_*). Kept on globalThis so that dev-mode module reloads reuse the one
 * LISTEN connection; a changed sync.config.ts (another compiled version) replaces it.
 */

const compiled = new WeakMap<object, CompiledSyncRules>();
const globalForSync = globalThis as unknown as { lockstepSyncServer?: { server: SyncServer; version: string } };

function rulesOf(config: unknown): CompiledSyncRules {
  const key = typeof config === 'object' && config !== null ? config : undefined;
  let rules = key ? compiled.get(key) : undefined;
  if (!rules) {
    rules = compileSyncRules(config);
    if (key) compiled.set(key, rules);
  }
  return rules;
}

/** Bucket storage's URL: SYNC_DATABASE_URL, else `<app database>_sync` next to DATABASE_URL (as `npm run dev` makes it). */
export function storageUrlFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): string {
  if (env.SYNC_DATABASE_URL) return env.SYNC_DATABASE_URL;
  if (env.DATABASE_URL) return withDatabase(env.DATABASE_URL, `${databaseName(env.DATABASE_URL)}_sync`);
  throw new SyncProtocolError(SyncErrorCode.misconfigured, 'Neither SYNC_DATABASE_URL nor DATABASE_URL is set; start the app with `npm run dev` or `npm start`, which set them.');
}

/**
 * The SyncServer for `config` (the default export of sync.config.ts), created on first use and
 * compiled once per process.
 *
 * @example
 *   import syncConfig from '@/sync.config';
 *   const server = syncServerFromEnv(syncConfig);
 */
export function syncServerFromEnv(config: unknown, options: Partial<Omit<SyncServerOptions, 'rules'>> = {}): SyncServer {
  const rules = rulesOf(config);
  const current = globalForSync.lockstepSyncServer;
  if (current && current.version === rules.version) return current.server;
  const server = new SyncServer({ rules, storageUrl: storageUrlFromEnv(), ...(process.env.DATABASE_URL ? { sourceUrl: process.env.DATABASE_URL } : {}), ...options });
  globalForSync.lockstepSyncServer = { server, version: rules.version };
  if (current) void current.server.close().catch((error: unknown) => consoleLogger.warn('closing the previous sync server failed', { error }));
  return server;
}

/**
 * Runs a route handler body with the env-configured SyncServer; configuration errors become the
 * protocol's JSON error responses instead of an HTML error page.
 *
 * @example
 *   export const POST = (request: Request) => withSyncServer(syncConfig, (server) => server.stream(request));
 */
export async function withSyncServer(config: unknown, handle: (server: SyncServer) => Promise<Response>): Promise<Response> {
  let server: SyncServer;
  try {
    server = syncServerFromEnv(config);
  } catch (error: unknown) {
    return errorResponse(error, consoleLogger);
  }
  return handle(server);
}
