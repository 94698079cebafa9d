import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from '@/test/db';
import type { BucketStorage } from '../bucket-storage';
import { commitBatch } from '../commit-batch';
import { listenCheckpoints, parameterNoticesEnabled, type CheckpointListener } from '../listen';
import type { CommitBatch } from '../types';
import { createStorageDatabase, newRulesVersion, put } from './helpers';

/**
 * NOTIFY lockstep_parameters (migration 0012): the stream's hub reads parameter lookups again only
 * after hearing it, so it must come for every write of the parameter index, and before the notice
 * of the checkpoint that includes the write.
 */
describe('parameter index notices', () => {
  let t: TestDatabase & { storage: BucketStorage };
  let rulesId: number;
  let listener: CheckpointListener;
  const events: string[] = [];

  beforeAll(async () => {
    t = await createStorageDatabase();
    rulesId = await newRulesVersion(t.storage);
    listener = listenCheckpoints(t.url, (n) => events.push(`checkpoint ${n.opId}`), { onParameterChange: () => events.push('parameters') });
    await listener.ready;
  });
  afterAll(async () => {
    await listener?.close();
    await t?.drop();
  });

  /** Commits `batch` (by COPY from `copyFrom` ops on) and returns the notices it brought, once its checkpoint's has come. */
  async function noticesOf(batch: CommitBatch, copyFrom = 200): Promise<string[]> {
    const start = events.length;
    const result = await commitBatch(t.pool, rulesId, batch, { copyOpsFrom: copyFrom });
    if (!batch.checkpoint) {
      // Nothing marks the end of a batch without a checkpoint: give its notices time to arrive.
      await new Promise((r) => setTimeout(r, 200));
      return events.slice(start);
    }
    await expect.poll(() => events.slice(start).includes(`checkpoint ${result.lastOpId}`)).toBe(true);
    return events.slice(start);
  }

  const member = (user: string, list: string) => ({ lookup: `members:${user}`, sourceTable: 'list_members', sourceRowId: `${list}-${user}`, values: [[list]] });

  it('comes before the checkpoint notice of a batch that writes parameters, by either way of committing', async () => {
    let last = 0;
    for (const copyFrom of [200, 1]) {
      const upsert = await noticesOf({ ops: [put('list["a"]', `r${last++}`, '{}')], parameters: { upsert: [member('u1', 'a')] }, checkpoint: true }, copyFrom);
      expect(upsert).toEqual(['parameters', expect.stringMatching(/^checkpoint /)]);
      const removal = await noticesOf({ ops: [], parameters: { delete: [{ sourceTable: 'list_members', sourceRowId: 'a-u1' }] }, checkpoint: true }, copyFrom);
      expect(removal).toEqual(['parameters', expect.stringMatching(/^checkpoint /)]);
    }
  });

  it('is not sent for a batch that writes no parameters', async () => {
    const notices = await noticesOf({ ops: [put('list["a"]', 'plain', '{}')], checkpoint: true });
    expect(notices).toEqual([expect.stringMatching(/^checkpoint /)]);
  });

  it('comes at the commit of a batch without a checkpoint, so before the checkpoint that follows it', async () => {
    const first = await noticesOf({ ops: [put('list["b"]', 'big-1', '{}')], parameters: { upsert: [member('u2', 'b')] }, checkpoint: false });
    expect(first).toEqual(['parameters']);
    const second = await noticesOf({ ops: [put('list["b"]', 'big-2', '{}')], checkpoint: true });
    expect(second).toEqual([expect.stringMatching(/^checkpoint /)]);
  });

  it('says whether storage sends them', async () => {
    expect(await parameterNoticesEnabled(t.pool)).toBe(true);
    await t.pool.query('ALTER TABLE lockstep.parameter_index DISABLE TRIGGER parameter_index_changed');
    try {
      expect(await parameterNoticesEnabled(t.pool)).toBe(false);
      const notices = await noticesOf({ ops: [], parameters: { upsert: [member('u3', 'c')] }, checkpoint: true });
      expect(notices).toEqual([expect.stringMatching(/^checkpoint /)]);
    } finally {
      await t.pool.query('ALTER TABLE lockstep.parameter_index ENABLE TRIGGER parameter_index_changed');
    }
    expect(await parameterNoticesEnabled(t.pool)).toBe(true);
  });
});
