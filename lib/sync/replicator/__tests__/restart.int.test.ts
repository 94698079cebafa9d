import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import syncConfig from '@/sync.config';
import { compileSyncRules } from '@/lib/sync/config';
import { migrateAppDatabase } from '@/lib/db/migrate';
import { seedDemoData } from '@/lib/db/seed';
import { ensureDatabase } from '@/lib/db/postgres/admin';
import { freePort, startLocalCluster, type LocalCluster } from '@/lib/db/postgres/local-cluster';
import { migrateStorage } from '@/lib/sync/storage';
import { silentLogger } from '../log';
import { Replicator } from '../replicator';
import { activeVersion, asObject, bucketContents, expectedContents, waitForCatchUp } from './harness';

const rules = compileSyncRules(syncConfig);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lockstep-restart-'));
fs.chmodSync(tmp, 0o755);
let cluster: LocalCluster | undefined;
const closers: Array<() => Promise<void>> = [];

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await cluster?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('Postgres restarting under the replicator', () => {
  it('reconnects with backoff and resumes where storage left off', async () => {
    const port = await freePort();
    const dataDir = path.join(tmp, 'pg');
    cluster = await startLocalCluster({ dataDir, port, durability: 'test', log: () => {} });
    const appUrl = cluster.url('app');
    const storageUrl = cluster.url('app_sync');
    await ensureDatabase(appUrl);
    await ensureDatabase(storageUrl);
    await migrateAppDatabase(appUrl);
    await migrateStorage(storageUrl);
    await seedDemoData(appUrl);
    const app = new pg.Pool({ connectionString: appUrl });
    app.on('error', () => undefined); // connections die with the server
    const storage = new pg.Pool({ connectionString: storageUrl });
    storage.on('error', () => undefined);
    closers.push(() => app.end(), () => storage.end());

    const replicator = new Replicator({ sourceUrl: appUrl, storageUrl, rules, log: silentLogger, retryMinMs: 100, retryMaxMs: 1000, compactEveryMs: 0 });
    const running = replicator.run();
    closers.push(async () => {
      await replicator.stop();
      await running;
    });
    const rulesId = await activeVersion(storage);
    await waitForCatchUp(app, storage);

    await cluster.stop();
    await new Promise((r) => setTimeout(r, 500));
    cluster = await startLocalCluster({ dataDir, port, durability: 'test', log: () => {} });

    await app.query("INSERT INTO todos (list_id, description) SELECT id, 'after the restart' FROM lists");
    await waitForCatchUp(app, storage, 60_000);
    const contents = asObject(await bucketContents(storage, rulesId));
    expect(contents).toEqual(asObject(await expectedContents(app, rules)));
    expect(JSON.stringify(contents)).toContain('after the restart');
  }, 120_000);
});
