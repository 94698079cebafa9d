import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import syncConfig from '@/sync.config';
import { createTestDatabase, type TestDatabase } from '@/test/db';
import { compileSyncRules } from '@/lib/sync/config';
import { errorBodySchema, SyncPath } from '@/lib/sync/protocol';
import { activateRulesVersion, commitBatch, createRulesVersion, migrateStorage } from '@/lib/sync/storage';
import { secretAuth } from '../auth/config';
import { signSyncToken } from '../auth/tokens';
import { toNodeListener } from '../http/node-adapter';
import { silentServerLogger } from '../log';
import { SyncServer } from '../sync-server';
import { Replica, request, StreamClient } from './client';
import { syncUntilComplete } from './harness';

/**
 * Rules versions as the stream sees them, driven straight through bucket storage (no replicator):
 * waiting for the first version, a new version replacing the active one mid-stream, and positions
 * from an old version being voided on reconnect.
 */

const rules = compileSyncRules(syncConfig);
const auth = secretAuth(randomBytes(32));
const user = '6d1f6b8e-0d7a-4c8e-9a53-3f3c5e7c1a01';
const bucket = `me${JSON.stringify([user])}`;
let storage: TestDatabase;
let server: SyncServer;
let httpServer: http.Server;
let url: string;

const put = (id: string, name: string) => ({ bucket, op: 'PUT' as const, table: 'users', rowId: id, data: JSON.stringify({ id, name }) });

async function open(body: Record<string, unknown> = { client_id: 'c1' }): Promise<StreamClient> {
  const client = new StreamClient(url, (await signSyncToken(auth, { sub: user })).token, body as never);
  await client.opened;
  return client;
}

beforeAll(async () => {
  storage = await createTestDatabase({ prefix: 'versions', migrate: false });
  await migrateStorage(storage.url);
  server = new SyncServer({ rules, storageUrl: storage.url, auth, log: silentServerLogger, keepaliveMs: 200 });
  httpServer = http.createServer(toNodeListener((r) => server.stream(r)));
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}${SyncPath.stream}`;
});
afterAll(async () => {
  httpServer?.closeAllConnections();
  httpServer?.close();
  await server?.close();
  await storage?.drop();
});

describe('sync stream: rules versions', () => {
  let first: number;
  let client: StreamClient;
  const replica = new Replica();

  it('keeps a stream open (keepalives only) until a first version is active, then sends its checkpoint', async () => {
    client = await open();
    expect(client.status).toBe(200);
    await client.next('keepalive', 3_000);
    expect(client.lines.filter((l) => l.type === 'checkpoint')).toEqual([]);
    first = (await createRulesVersion(storage.pool, { versionHash: rules.version, slotName: 's1' })).id;
    await commitBatch(storage.pool, first, { ops: [put(user, 'Dana')], lsn: '0/100', checkpoint: true });
    await activateRulesVersion(storage.pool, first);
    // The activation itself sends no notice; the next checkpoint of the version does.
    await commitBatch(storage.pool, first, { ops: [], lsn: '0/101', checkpoint: true });
    await syncUntilComplete(client, replica);
    expect(Object.values(replica.contents()[bucket] ?? {})).toEqual([JSON.stringify({ id: user, name: 'Dana' })]);
  });

  it('ends the stream with SYNC_RULES_CHANGED when another version becomes active', async () => {
    const second = (await createRulesVersion(storage.pool, { versionHash: `${rules.version}-2`, slotName: 's2' })).id;
    await commitBatch(storage.pool, second, { ops: [put(user, 'Dana 2'), put(user, 'Dana 2b')], lsn: '0/200', checkpoint: true });
    await activateRulesVersion(storage.pool, second);
    await commitBatch(storage.pool, second, { ops: [], lsn: '0/201', checkpoint: true });
    const error = await client.next('error', 5_000);
    expect(error.error.code).toBe('SYNC_RULES_CHANGED');
    await client.finished;
  });

  it('voids positions from the old version on reconnect: everything comes again, from 0', async () => {
    const old = replica.rulesVersion;
    const again = await open({ client_id: 'c1', buckets: replica.positions(), rules_version: old });
    await syncUntilComplete(again, replica);
    again.close();
    expect(replica.rulesVersion).not.toBe(old);
    expect(again.lines.filter((l) => l.type === 'data').map((l) => l.type === 'data' && l.after)).toEqual(['0']);
    expect(Object.values(replica.contents()[bucket] ?? {})).toEqual([JSON.stringify({ id: user, name: 'Dana 2b' })]);
  });
});

describe('sync stream: bucket storage down', () => {
  it('answers 503 SYNC_UNAVAILABLE after the ready timeout', async () => {
    const down = new SyncServer({ rules, storageUrl: 'postgres://nobody@127.0.0.1:1/none', auth, log: silentServerLogger, readyTimeoutMs: 500 });
    const downServer = http.createServer(toNodeListener((r) => down.stream(r)));
    await new Promise<void>((resolve) => downServer.listen(0, '127.0.0.1', resolve));
    try {
      const res = await request(`http://127.0.0.1:${(downServer.address() as AddressInfo).port}${SyncPath.stream}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${(await signSyncToken(auth, { sub: user })).token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ client_id: 'c' }),
      });
      expect(res.status).toBe(503);
      expect(errorBodySchema.parse(res.json()).error.code).toBe('SYNC_UNAVAILABLE');
    } finally {
      downServer.close();
      await down.close();
    }
  });
});
