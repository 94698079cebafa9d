import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import syncConfig from '@/sync.config';
import { seedDemoData } from '@/lib/db/seed';
import { compileSyncRules, type CompiledSyncRules } from '@/lib/sync/config';
import { SyncPath, type StreamRequestInput } from '@/lib/sync/protocol';
import { activeVersion, asObject, expectedContents, replicationFixture, waitForCatchUp, type ReplicationFixture } from '@/lib/sync/replicator/__tests__/harness';
import { secretAuth, type SyncAuthConfig } from '../auth/config';
import { signSyncToken } from '../auth/tokens';
import { toNodeListener } from '../http/node-adapter';
import { silentServerLogger } from '../log';
import { SyncServer, type SyncServerOptions } from '../sync-server';
import { StreamClient, type Replica } from './client';

/**
 * A real stack for protocol tests: app database with the demo seed, the real replicator, bucket
 * storage, and a SyncServer served by node:http on 127.0.0.1.
 */
export interface StreamFixture {
  rules: CompiledSyncRules;
  replication: ReplicationFixture;
  server: SyncServer;
  auth: SyncAuthConfig;
  baseUrl: string;
  /** Demo user ids by first name: alice, bob, carol. */
  users: Record<'alice' | 'bob' | 'carol', string>;
  token(userId: string, options?: { ttlSeconds?: number; claims?: Record<string, unknown> }): Promise<string>;
  open(token: string | null, body?: StreamRequestInput | string): Promise<StreamClient>;
  /** Waits until the replicator has caught up with every committed app transaction. */
  catchUp(): Promise<void>;
  /** What the user should hold: the sync rules applied to the app database, for their buckets only. */
  expectedFor(userId: string): Promise<Record<string, Record<string, string>>>;
  close(): Promise<void>;
}

export async function streamFixture(options: Partial<Omit<SyncServerOptions, 'rules' | 'storageUrl' | 'auth'>> = {}): Promise<StreamFixture> {
  const rules = compileSyncRules(syncConfig);
  const replication = await replicationFixture(rules);
  await seedDemoData(replication.app.url);
  replication.start();
  await activeVersion(replication.storage.pool);
  await waitForCatchUp(replication.app.pool, replication.storage.pool);

  const auth = secretAuth(randomBytes(32));
  const server = new SyncServer({ rules, storageUrl: replication.storage.url, sourcePool: replication.app.pool, auth, log: silentServerLogger, ...options });
  const routes: Record<string, (request: Request) => Promise<Response>> = {
    [`POST ${SyncPath.stream}`]: (r) => server.stream(r),
    [`POST ${SyncPath.writeCheckpoint}`]: (r) => server.writeCheckpoint(r),
    [`GET ${SyncPath.jwks}`]: () => server.jwks(),
  };
  const httpServer = http.createServer(
    toNodeListener(async (request) => {
      const route = routes[`${request.method} ${new URL(request.url).pathname}`];
      return route ? route(request) : new Response('not found', { status: 404 });
    }),
  );
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;

  const { rows } = await replication.app.pool.query<{ id: string; email: string }>('SELECT id, email FROM users');
  const users = Object.fromEntries(rows.map((r) => [r.email.split('@')[0], r.id])) as StreamFixture['users'];

  return {
    rules,
    replication,
    server,
    auth,
    baseUrl,
    users,
    async token(userId, tokenOptions = {}) {
      return (await signSyncToken(auth, { sub: userId, ...tokenOptions })).token;
    },
    async open(token, body = { client_id: 'test-client' }) {
      const client = new StreamClient(`${baseUrl}${SyncPath.stream}`, token, body);
      await client.opened;
      return client;
    },
    catchUp: () => waitForCatchUp(replication.app.pool, replication.storage.pool),
    async expectedFor(userId) {
      const all = asObject(await expectedContents(replication.app.pool, rules));
      const own = await userBuckets(replication.app.pool, userId);
      return Object.fromEntries(Object.entries(all).filter(([bucket]) => own.has(bucket)));
    },
    async close() {
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      await server.close();
      await replication.drop();
    },
  };
}

/** The user's buckets per sync.config.ts, computed straight from the app database. */
export async function userBuckets(app: pg.Pool, userId: string): Promise<Set<string>> {
  const { rows } = await app.query<{ id: string }>('SELECT id FROM lists WHERE owner_id = $1 UNION SELECT list_id FROM list_members WHERE user_id = $1', [userId]);
  return new Set([`me${JSON.stringify([userId])}`, 'announcements[]', ...rows.map((r) => `list${JSON.stringify([r.id])}`)]);
}

/** Applies lines to `replica` until `count` more checkpoint_complete lines have been applied. */
export async function syncUntilComplete(client: StreamClient, replica: Replica, count = 1, timeoutMs = 15_000): Promise<void> {
  const target = replica.completed + count;
  while (replica.completed < target) replica.apply(await client.next(undefined, timeoutMs));
}
