import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLockstepError } from '@/lib/sync/errors';
import { createTestDatabase, type TestDatabase } from '@/test/db';
import { BucketStorage } from '../bucket-storage';
import { StorageErrorCode } from '../errors';
import { listenCheckpoints, type CheckpointNotice } from '../listen';
import { migrateStorage, STORAGE_MIGRATIONS_DIR } from '../migrate';
import { put } from './helpers';

let t: TestDatabase;
let storage: BucketStorage;
beforeAll(async () => {
  t = await createTestDatabase({ migrate: false, prefix: 'storage' });
  storage = new BucketStorage(t.pool);
});
afterAll(async () => {
  await t?.drop();
});

describe('migrateStorage', () => {
  it('applies every migration once, even when several processes run it at the same time', async () => {
    const results = await Promise.all([migrateStorage(t.url), migrateStorage(t.url), migrateStorage(t.url)]);
    const files = (await fs.readdir(STORAGE_MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).sort();
    expect(results.flatMap((r) => r.applied).sort()).toEqual(files);
    expect(await migrateStorage(t.url)).toEqual({ applied: [] });
    const { rows } = await t.pool.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'lockstep' ORDER BY tablename");
    expect(rows.map((r) => r.tablename)).toEqual(['bucket_state', 'checkpoints', 'current_rows', 'ops', 'parameter_index', 'rules_versions', 'storage_migrations', 'upload_transactions', 'write_checkpoints']);
  });

  it('refuses a migration edited after it was applied, and rolls back a failing one', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lockstep-migrations-'));
    try {
      const other = await createTestDatabase({ migrate: false, prefix: 'storage' });
      try {
        await fs.writeFile(path.join(dir, '0001_a.sql'), 'CREATE SCHEMA IF NOT EXISTS lockstep; CREATE TABLE lockstep.a (x int);');
        await migrateStorage(other.url, { migrationsDir: dir });
        await fs.writeFile(path.join(dir, '0001_a.sql'), 'CREATE TABLE lockstep.a (x bigint);');
        const changed = await migrateStorage(other.url, { migrationsDir: dir }).catch((e: unknown) => e);
        expect(isLockstepError(changed, StorageErrorCode.migrationChanged)).toBe(true);

        await fs.writeFile(path.join(dir, '0001_a.sql'), 'CREATE SCHEMA IF NOT EXISTS lockstep; CREATE TABLE lockstep.a (x int);');
        await fs.writeFile(path.join(dir, '0002_b.sql'), 'CREATE TABLE lockstep.b (x int); SELECT 1/0;');
        const failed = await migrateStorage(other.url, { migrationsDir: dir }).catch((e: unknown) => e);
        expect(isLockstepError(failed, StorageErrorCode.migrationFailed)).toBe(true);
        const { rows } = await other.pool.query("SELECT 1 FROM pg_tables WHERE schemaname = 'lockstep' AND tablename = 'b'");
        expect(rows).toHaveLength(0);
      } finally {
        await other.drop();
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('rules versions', () => {
  it('builds next to the active version, then switches atomically', async () => {
    const v1 = await storage.createRulesVersion({ versionHash: 'h1', slotName: 'lockstep_1' });
    expect(v1).toMatchObject({ state: 'building', lastLsn: null, lastOpId: 0, snapshotProgress: { complete: false, tables: {} } });
    const conflict = await storage.createRulesVersion({ versionHash: 'h2', slotName: 'lockstep_2' }).catch((e: unknown) => e);
    expect(isLockstepError(conflict, StorageErrorCode.rulesVersionConflict)).toBe(true);
    await storage.activateRulesVersion(v1.id);
    expect((await storage.activeRulesVersion())?.id).toBe(v1.id);
    expect(await storage.buildingRulesVersion()).toBeNull();

    const v2 = await storage.createRulesVersion({ versionHash: 'h2', slotName: 'lockstep_2' });
    await storage.commitBatch(v2.id, { ops: [put('b', 'r', '{}')], checkpoint: true, lsn: '0/5' });
    await storage.setLastLsn(v2.id, '0/4'); // an explicit set may go backwards
    expect(await storage.getLastLsn(v2.id)).toBe('0/4');
    expect((await storage.buildingRulesVersion())?.id).toBe(v2.id);
    const active = await storage.activateRulesVersion(v2.id);
    expect(active).toMatchObject({ id: v2.id, state: 'active', lastOpId: 1 });
    expect((await storage.getRulesVersion(v1.id))?.state).toBe('retired');
    expect((await storage.listRulesVersions()).map((v) => v.state)).toEqual(['retired', 'active']);

    const reactivate = await storage.activateRulesVersion(v1.id).catch((e: unknown) => e);
    expect(isLockstepError(reactivate, StorageErrorCode.rulesVersionState)).toBe(true);
    const deleteActive = await storage.deleteRulesVersion(v2.id).catch((e: unknown) => e);
    expect(isLockstepError(deleteActive, StorageErrorCode.rulesVersionState)).toBe(true);
  });

  it('deletes every row of a retired version and nothing of another', async () => {
    const keep = (await storage.activeRulesVersion())!;
    const gone = await storage.createRulesVersion({ versionHash: 'h3', slotName: 'lockstep_3' });
    await storage.commitBatch(gone.id, {
      ops: [put('b', 'r', '{}')],
      currentRows: { upsert: [{ table: 't', rowId: 'r', buckets: ['b'], values: {} }] },
      parameters: { upsert: [{ lookup: 'l', sourceTable: 't', sourceRowId: 'r', values: [['x']] }] },
      checkpoint: true,
    });
    await storage.retireRulesVersion(gone.id);
    await storage.deleteRulesVersion(gone.id);
    expect(await storage.getRulesVersion(gone.id)).toBeNull();
    for (const table of ['ops', 'bucket_state', 'checkpoints', 'current_rows', 'parameter_index']) {
      const { rows } = await t.pool.query<{ rules_id: number }>(`SELECT DISTINCT rules_id FROM lockstep.${table}`);
      expect(rows.map((r) => r.rules_id).filter((id) => id !== keep.id)).toEqual([]);
    }
    await storage.deleteRulesVersion(gone.id); // re-running is harmless
    const stats = await storage.storageStats(keep.id);
    expect(stats).toMatchObject({ buckets: 1, ops: 1, lastCheckpoint: { opId: 1, lsn: '0/5' } });
    expect(stats.tableBytes.ops).toBeGreaterThan(0);
  });
});

describe('listenCheckpoints', () => {
  it('delivers each checkpoint, and reconnects after its connection is killed', async () => {
    const rulesId = (await storage.activeRulesVersion())!.id;
    const notices: CheckpointNotice[] = [];
    const connects: boolean[] = [];
    const errors: Error[] = [];
    const listener = listenCheckpoints(t.url, (n) => notices.push(n), { onConnect: ({ reconnect }) => connects.push(reconnect), onError: (e) => errors.push(e), minDelayMs: 20 });
    try {
      await listener.ready;
      const first = await storage.commitBatch(rulesId, { ops: [put('b', 'r2', '{}')], checkpoint: true });
      await storage.commitBatch(rulesId, { ops: [put('b', 'r3', '{}')], checkpoint: false }); // no checkpoint, no notice
      await expect.poll(() => notices).toEqual([{ rulesId, opId: first.lastOpId }]);

      await t.pool.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN lockstep_checkpoint'");
      await expect.poll(() => connects, { timeout: 5_000 }).toEqual([false, true]);
      const second = await storage.commitBatch(rulesId, { ops: [], checkpoint: true });
      await expect.poll(() => notices.at(-1)).toEqual({ rulesId, opId: second.lastOpId });
      expect(errors.length).toBeGreaterThan(0); // the drop was reported, not swallowed
    } finally {
      await listener.close();
    }
  });
});
