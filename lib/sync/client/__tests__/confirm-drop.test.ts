import { describe, expect, it } from 'vitest';
import { clientSchema } from '@/lib/sync/generated/client-schema';
import { SyncCore } from '../core';
import { openNodeDatabase } from '../db/open-node';
import { markAcked } from '../writes/queue-store';

/**
 * Confirmed entries leave the upload queue in one transaction: in the browser every commit is a
 * flush of the OPFS file, and one commit per DELETE held 1,000 confirmed writes in the queue (and
 * `pendingUploads` at 1,000) for ~20 s after the checkpoint covering them was applied.
 */
describe('confirmed uploads leave the queue', () => {
  it('in one transaction, and the status counts them gone at once', async () => {
    const db = await openNodeDatabase();
    const core = SyncCore.open({ db, schema: clientSchema, baseUrl: 'http://x.invalid', fetchToken: async () => ({ token: 't', expiresAt: Date.now() + 60_000 }) });
    for (let i = 0; i < 50; i++) core.execute('INSERT INTO todos (id, list_id, description, completed, created_at) VALUES (?, ?, ?, 0, ?)', [`t${i}`, 'l1', `todo ${i}`, '2026-01-01']);
    const entries = core.uploadQueue();
    // The first 40 acknowledged by write checkpoint 7, the rest by 9.
    db.transaction(() => entries.forEach((e, i) => markAcked(db, e.transaction.id, i < 40 ? '7' : '9')));

    const deletes: boolean[] = [];
    const run = db.run.bind(db);
    db.run = (sql, params) => {
      if (/^\s*DELETE/i.test(sql)) deletes.push(db.inTransaction);
      return run(sql, params);
    };
    let statusCount = -1;
    const off = core.uploads.subscribe(() => (statusCount = core.uploads.pendingCount));
    core.uploads.checkpointApplied('7');
    off();
    db.run = run;

    expect(deletes.length).toBeGreaterThan(0);
    expect(deletes.every((inside) => inside)).toBe(true);
    expect(core.uploadQueue().map((e) => e.writeCheckpoint)).toEqual(Array(10).fill('9'));
    expect(statusCount).toBe(10);
    expect(db.get('SELECT count(*) AS n FROM ls_upload_ops')).toEqual({ n: 10 });
    await core.close();
  });
});
