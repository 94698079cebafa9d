import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import syncConfig from '@/sync.config';
import { announcements, todos } from '@/lib/db/schema';
import { bucket, compileSyncRules, defineSyncRules, eq, from } from '@/lib/sync/config';
import { seedDemoData } from '@/lib/db/seed';
import { createRulesVersion, retireRulesVersion } from '@/lib/sync/storage';
import { Replicator } from '../replicator';
import { silentLogger } from '../log';
import { activeVersion, asObject, bucketContents, expectedContents, poll, replicationFixture, waitForCatchUp, type ReplicationFixture } from './harness';

const v1 = compileSyncRules(syncConfig);
// A changed sync.config.ts: everything as before, plus a bucket of completed todos.
const v2 = compileSyncRules(
  defineSyncRules({
    buckets: {
      ...syncConfig.buckets,
      done: bucket({ data: () => [from(todos).where(eq(todos.completed, true))] }),
      announcements: bucket({ data: () => [from(announcements)] }),
    },
  }),
);

let f: ReplicationFixture;
/** The instance that built and leads the changed rules' version. */
let building: Replicator | undefined;
/** The instance that leads it after `building` stopped. */
let successor: Replicator | undefined;
beforeAll(async () => {
  f = await replicationFixture(v1);
  await seedDemoData(f.app.url);
});
afterAll(async () => {
  await f?.drop();
});

describe('rules versions and leadership', () => {
  it('one leader per rules version; a standby takes over within seconds when the leader stops', async () => {
    const leader = f.start({ standbyPollMs: 200 });
    const first = await activeVersion(f.storage.pool);
    const standby = f.start({ standbyPollMs: 200 });
    await poll(async () => (standby.role === 'standby' ? true : undefined), 10_000, 'the second instance to stand by');
    expect(leader.role).toBe('leader');

    await leader.stop();
    const stoppedAt = Date.now();
    await poll(async () => (standby.role === 'leader' ? true : undefined), 10_000, 'the standby to take over');
    expect(Date.now() - stoppedAt).toBeLessThan(5_000);
    await f.app.pool.query("INSERT INTO todos (list_id, description) SELECT id, 'after failover' FROM lists LIMIT 1");
    await waitForCatchUp(f.app.pool, f.storage.pool);
    expect(await activeVersion(f.storage.pool)).toBe(first);
    expect(asObject(await bucketContents(f.storage.pool, first))).toEqual(asObject(await expectedContents(f.app.pool, v1)));
  });

  it('a changed sync.config.ts is built beside the old version, switched to atomically, and the old slot and data are dropped', async () => {
    const old = await activeVersion(f.storage.pool);
    const oldSlot = (await f.storage.pool.query<{ slot_name: string }>('SELECT slot_name FROM lockstep.rules_versions WHERE id = $1', [old])).rows[0]!.slot_name;
    // Apply the new publication first, as a migration would.
    await f.app.pool.query(v2.publicationSql());
    building = f.start({ rules: v2, standbyPollMs: 200 });
    // The old version keeps serving until the new one has its first checkpoint.
    const next = await poll(async () => {
      const id = await activeVersion(f.storage.pool);
      return id !== old ? id : undefined;
    }, 30_000, 'the new version to become active');
    await poll(async () => {
      const slot = await f.app.pool.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [oldSlot]);
      const ops = await f.storage.pool.query('SELECT 1 FROM lockstep.ops WHERE rules_id = $1 LIMIT 1', [old]);
      return slot.rowCount === 0 && ops.rowCount === 0 ? true : undefined;
    }, 15_000, 'the old slot and data to be dropped');

    await f.app.pool.query("UPDATE todos SET completed = true WHERE description = 'after failover'");
    await waitForCatchUp(f.app.pool, f.storage.pool);
    const contents = asObject(await bucketContents(f.storage.pool, next));
    expect(contents).toEqual(asObject(await expectedContents(f.app.pool, v2)));
    expect(Object.keys(contents['done[]'] ?? {}).length).toBeGreaterThan(0);
  });

  it('a leader of an active version drops retired versions left behind (a stop between activating and dropping)', async () => {
    const slotName = `lockstep_leftover_${Date.now()}`;
    await f.app.pool.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slotName]);
    const leftover = await createRulesVersion(f.storage.pool, { versionHash: 'leftover-version', slotName });
    await retireRulesVersion(f.storage.pool, leftover.id);
    await building!.stop();
    successor = f.start({ rules: v2, standbyPollMs: 200 });
    await poll(async () => {
      const slot = await f.app.pool.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slotName]);
      const version = await f.storage.pool.query('SELECT 1 FROM lockstep.rules_versions WHERE id = $1', [leftover.id]);
      return slot.rowCount === 0 && version.rowCount === 0 ? true : undefined;
    }, 15_000, 'the leftover slot and version to be dropped');
  });

  it('a stop at any moment while taking the lead ends the run', async () => {
    await successor!.stop();
    await poll(async () => (successor!.role === 'stopped' ? true : undefined), 10_000, 'the leader to stop');
    // Between taking the lock and streaming there are awaits where no streamer exists yet to be
    // stopped; a stop there must not be lost (the run would stream on for ever).
    for (let delayMs = 0; delayMs <= 90; delayMs += 2) {
      const replicator = new Replicator({ sourceUrl: f.app.url, storageUrl: f.storage.url, rules: v2, log: silentLogger, compactEveryMs: 0, standbyPollMs: 50 });
      const run = replicator.run();
      await poll(async () => (replicator.role === 'leader' ? true : undefined), 10_000, 'the instance to lead');
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      await replicator.stop();
      const ended = await Promise.race([run.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 5_000))]);
      expect(ended, `run() ended after a stop ${delayMs} ms into leading`).toBe(true);
    }
  }, 120_000);
});
