import { describe, expect, it } from 'vitest';
import { addChecksums, opChecksum } from '@/lib/sync/protocol';
import { clientSchema } from '@/lib/sync/generated/client-schema';
import { openNodeDatabase } from '../db/open-node';
import { memoryLogger } from '../log';
import { LocalStore } from '../storage/local-store';
import { CheckpointSync } from '../sync/checkpoint-sync';
import { emptyUploadQueue } from '../upload-queue';

/** Row data is kept as JSONB (storage/data-format.ts); databases from before are converted in place. */

const todo = (id: string, description: string) => JSON.stringify({ id, list_id: 'l1', description, notes: null, completed: false, completed_at: null, created_by: null, created_at: '2026-01-01T00:00:00.000Z' });

function page(bucket: string, rows: Array<[id: string, data: string]>) {
  const ops = rows.map(([id, data], i) => ({ op_id: String(i + 1), op: 'PUT' as const, table: 'todos', row_id: id, data, checksum: opChecksum('PUT', 'todos', id, data) }));
  const checksum = ops.reduce((sum, op) => addChecksums(sum, op.checksum), 0);
  return {
    checkpoint: { type: 'checkpoint' as const, last_op_id: String(ops.length), write_checkpoint: null, rules_version: 'v1', buckets: [{ bucket, checksum, count: ops.length, priority: 3 }] },
    data: { type: 'data' as const, bucket, after: '0', next_after: String(ops.length), has_more: false, ops },
    complete: { type: 'checkpoint_complete' as const, last_op_id: String(ops.length) },
  };
}

describe('row data as JSONB', () => {
  it('stores downloaded rows (first sync and later pages) as JSONB that the views read', async () => {
    const db = await openNodeDatabase();
    const sync = new CheckpointSync(LocalStore.open(db, clientSchema), emptyUploadQueue, memoryLogger());
    const first = page('b[]', [['t1', todo('t1', 'Tea')], ['t2', todo('t2', 'Milk "2%"')]]);
    sync.checkpoint(first.checkpoint);
    sync.data([first.data]);
    expect((await sync.complete(first.complete)).kind).toBe('applied');
    expect(db.all("SELECT id, typeof(data) AS t FROM ls_data__todos ORDER BY id")).toEqual([{ id: 't1', t: 'blob' }, { id: 't2', t: 'blob' }]);
    expect(db.all('SELECT id, description, completed FROM todos ORDER BY id')).toEqual([{ id: 't1', description: 'Tea', completed: 0 }, { id: 't2', description: 'Milk "2%"', completed: 0 }]);
    // A second bucket's page goes through the oplog (the store is no longer empty).
    const later = page('c[]', [['t3', ` ${todo('t3', 'Bread')}\n`]]);
    sync.checkpoint({ ...later.checkpoint, buckets: [...first.checkpoint.buckets, ...later.checkpoint.buckets] });
    sync.data([later.data]);
    expect((await sync.complete(later.complete)).kind).toBe('applied');
    expect(db.get("SELECT typeof(data) AS t, description FROM ls_data__todos JOIN todos USING (id) WHERE id = 't3'")).toEqual({ t: 'blob', description: 'Bread' });
    db.close();
  });

  it('stores a PUT whose data is not JSON as a JSON string, with the rest of its page, and says so', async () => {
    for (const firstSync of [true, false]) {
      const db = await openNodeDatabase();
      const log = memoryLogger();
      const sync = new CheckpointSync(LocalStore.open(db, clientSchema), emptyUploadQueue, log);
      if (!firstSync) db.run("INSERT INTO ls_data__todos (id, data) VALUES ('t0', jsonb(?))", [todo('t0', 'Old')]);
      const p = page('b[]', [['t1', todo('t1', 'Tea')], ['t2', '{"id": "t2", "description": ']]);
      sync.checkpoint(p.checkpoint);
      sync.data([p.data]);
      expect((await sync.complete(p.complete)).kind).toBe('applied');
      expect(db.all('SELECT id, description FROM todos ORDER BY id')).toEqual([...(firstSync ? [] : [{ id: 't0', description: 'Old' }]), { id: 't1', description: 'Tea' }, { id: 't2', description: null }]);
      expect(db.get("SELECT data ->> '$' AS text FROM ls_data__todos WHERE id = 't2'")).toEqual({ text: '{"id": "t2", "description": ' });
      expect(log.lines.some((l) => l.level === 'warn' && l.message.startsWith('PUTs whose data is not JSON') && l.fields?.count === 1)).toBe(true);
      db.close();
    }
  });

  it('converts the text rows of a database from before in place, keeping the upload queue and positions', async () => {
    const db = await openNodeDatabase();
    LocalStore.open(db, clientSchema);
    // The state a database made before JSONB was in: JSON text everywhere, a queued local write.
    db.run("DELETE FROM ls_meta WHERE key = 'data_format'");
    db.run('INSERT INTO ls_data__todos (id, data) VALUES (?, ?), (?, ?)', ['t1', todo('t1', 'Tea'), 't2', 'not json']);
    db.run("INSERT INTO ls_oplog (tbl, row_id, bucket, op_id, data) VALUES ('todos', 't1', 'b[]', 7, ?), ('todos', 't2', 'b[]', 8, '')", [todo('t1', 'Tea')]);
    db.run("INSERT INTO ls_buckets (name, position, checksum, op_count) VALUES ('b[]', 8, 1234, 2)");
    db.run("INSERT INTO ls_server_rows (tbl, row_id, data) VALUES ('todos', 't1', ?)", [todo('t1', 'Coffee')]);
    db.run("INSERT INTO ls_upload_queue (tx_id, created_at) VALUES ('tx1', 1)");
    db.run(`INSERT INTO ls_upload_ops (tx_id, op, tbl, row_id, data) VALUES ('tx1', 'PATCH', 'todos', 't1', '{"description":"Tea"}')`);
    const queueBefore = db.all('SELECT * FROM ls_upload_queue JOIN ls_upload_ops USING (tx_id)');

    LocalStore.open(db, clientSchema);
    expect(db.all('SELECT id, typeof(data) AS t FROM ls_data__todos ORDER BY id')).toEqual([{ id: 't1', t: 'blob' }, { id: 't2', t: 'text' }]);
    expect(db.get("SELECT json(data) AS d FROM ls_data__todos WHERE id = 't1'")).toEqual({ d: todo('t1', 'Tea') });
    expect(db.all("SELECT row_id, typeof(data) AS t FROM ls_oplog ORDER BY row_id")).toEqual([{ row_id: 't1', t: 'blob' }, { row_id: 't2', t: 'text' }]);
    expect(db.get("SELECT json(data) AS d, typeof(data) AS t FROM ls_server_rows")).toEqual({ d: todo('t1', 'Coffee'), t: 'blob' });
    expect(db.all('SELECT * FROM ls_upload_queue JOIN ls_upload_ops USING (tx_id)')).toEqual(queueBefore);
    expect(db.get("SELECT position, checksum FROM ls_buckets WHERE name = 'b[]'")).toEqual({ position: 8, checksum: 1234 });
    expect(db.get("SELECT value FROM ls_meta WHERE key = 'data_format'")).toEqual({ value: 'jsonb' });
    db.close();
  });
});
