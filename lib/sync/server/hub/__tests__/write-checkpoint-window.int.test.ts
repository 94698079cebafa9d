import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@/test/db';
import { clientKey, commitBatch, createRulesVersion, createWriteCheckpoint, migrateStorage } from '@/lib/sync/storage';
import { WriteCheckpointWindow } from '../write-checkpoint-window';

let db: TestDatabase;
let rulesId: number;

beforeAll(async () => {
  db = await createTestDatabase({ prefix: 'wcwindow', migrate: false });
  await migrateStorage(db.url);
  rulesId = (await createRulesVersion(db.pool, { versionHash: 'h', slotName: 's' })).id;
});
afterAll(async () => {
  await db?.drop();
});

const LAG = 5_000;
const FULL = 60_000;

/** A window on a clock the test moves, and a count of the reads that asked for every participant. */
function windowAt(start: number) {
  const clock = { now: start };
  const window = new WriteCheckpointWindow(LAG, FULL, () => clock.now);
  let fullReads = 0;
  const read = async (opId: number, clients: Array<{ userId: string; clientId: string }>) => {
    const at = await window.read(db.pool, rulesId, opId, () => (fullReads++, clients));
    window.settle(at.lsn);
    return Object.fromEntries(at.ids);
  };
  return { clock, window, read, fullReads: () => fullReads };
}

describe('WriteCheckpointWindow: the write checkpoints each round reaches', () => {
  it('asks for every participant until it has a reading old enough, then only for what is new', async () => {
    const w = windowAt(1_000_000);
    await w.window.observe(db.pool);
    const a1 = await createWriteCheckpoint(db.pool, 'wa', 'c', '0/100');
    const cp1 = await commitBatch(db.pool, rulesId, { ops: [], lsn: '0/200', checkpoint: true });
    expect(await w.read(cp1.lastOpId, [{ userId: 'wa', clientId: 'c' }])).toEqual({ [clientKey('wa', 'c')]: a1 });
    expect(w.fullReads()).toBe(1);

    // Not yet LAG after the first reading: still every participant.
    w.clock.now += LAG / 2;
    const b1 = await createWriteCheckpoint(db.pool, 'wb', 'c', '0/250');
    const cp2 = await commitBatch(db.pool, rulesId, { ops: [], lsn: '0/300', checkpoint: true });
    expect(await w.read(cp2.lastOpId, [{ userId: 'wb', clientId: 'c' }])).toEqual({ [clientKey('wb', 'c')]: b1 });
    expect(w.fullReads()).toBe(2);

    // Past it: what is new, whoever its client (the participants are not asked for).
    w.clock.now += LAG;
    const c1 = await createWriteCheckpoint(db.pool, 'wc', 'c', '0/350');
    const pending = await createWriteCheckpoint(db.pool, 'wd', 'c', '0/900');
    const cp3 = await commitBatch(db.pool, rulesId, { ops: [], lsn: '0/400', checkpoint: true });
    const third = await w.read(cp3.lastOpId, []);
    expect(w.fullReads()).toBe(2);
    expect(third[clientKey('wc', 'c')]).toBe(c1);
    expect(third[clientKey('wd', 'c')]).toBeUndefined();

    // Committed after the round that read a checkpoint past its LSN: still found by the next one, by its id.
    const late = await createWriteCheckpoint(db.pool, 'we', 'c', '0/380');
    w.clock.now += 100;
    const cp4 = await commitBatch(db.pool, rulesId, { ops: [{ bucket: 'x', op: 'PUT', table: 't', rowId: '1', data: '{}' }], lsn: '0/500', checkpoint: true });
    expect((await w.read(cp4.lastOpId, []))[clientKey('we', 'c')]).toBe(late);

    // Long after, the pending one is reached by its LSN though its id is now below the window.
    w.clock.now += 2 * LAG;
    await w.read(cp4.lastOpId, []);
    w.clock.now += 2 * LAG;
    const cp5 = await commitBatch(db.pool, rulesId, { ops: [{ bucket: 'x', op: 'PUT', table: 't', rowId: '2', data: '{}' }], lsn: '0/1000', checkpoint: true });
    expect(await w.read(cp5.lastOpId, [])).toEqual({ [clientKey('wd', 'c')]: pending });
    expect(w.fullReads()).toBe(2);

    // Every FULL ms, and after a reset, every participant again.
    w.clock.now += FULL;
    await w.read(cp5.lastOpId, [{ userId: 'wa', clientId: 'c' }]);
    expect(w.fullReads()).toBe(3);
    w.window.reset();
    w.clock.now += 100;
    await w.read(cp5.lastOpId, [{ userId: 'wa', clientId: 'c' }]);
    expect(w.fullReads()).toBe(4);
    w.clock.now += 100;
    await w.read(cp5.lastOpId, []);
    expect(w.fullReads()).toBe(4);
  });

  it('keeps the last LSN when a checkpoint has none', async () => {
    const w = windowAt(0);
    await w.window.observe(db.pool);
    w.clock.now += LAG;
    const cp = await commitBatch(db.pool, rulesId, { ops: [], lsn: '0/2000', checkpoint: true });
    await w.read(cp.lastOpId, []);
    const id = await createWriteCheckpoint(db.pool, 'wf', 'c', '0/1900');
    // A checkpoint without an LSN reaches nothing, and leaves the window where it was.
    expect(await w.read(999_999, [])).toEqual({});
    w.clock.now += 100;
    expect((await w.read(cp.lastOpId, []))[clientKey('wf', 'c')]).toBe(id);
  });
});
