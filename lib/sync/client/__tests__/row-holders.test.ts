import { describe, expect, it } from 'vitest';
import { addChecksums, opChecksum } from '@/lib/sync/protocol';
import { clientSchema } from '@/lib/sync/generated/client-schema';
import { SyncCore } from '../core';
import type { SqlDatabase } from '../db/database';
import { openNodeDatabase } from '../db/open-node';
import { memoryLogger } from '../log';
import { LocalStore } from '../storage/local-store';
import { CheckpointSync } from '../sync/checkpoint-sync';
import { emptyUploadQueue } from '../upload-queue';

/**
 * A first sync writes each row once, carrying its bucket, with no oplog entry
 * (storage/holders.ts); every later path that removes a holder must still see those rows, and a
 * database from before (every holder an oplog entry, stale columns in the store) is migrated.
 */

const todo = (id: string, description: string) => JSON.stringify({ id, list_id: 'l1', description, notes: null, completed: false, completed_at: null, created_by: null, created_at: '2026-01-01T00:00:00.000Z' });

type Op = { op: 'PUT'; id: string; data: string } | { op: 'REMOVE'; id: string };

/** A stream for one bucket: checkpoint `last`, one data page of `ops` after `after` (op ids after+1…), completion. */
function stream(bucket: string, after: number, ops: Op[], priorChecksum = 0) {
  const wire = ops.map((o, i) => ({ op_id: String(after + i + 1), op: o.op, table: 'todos', row_id: o.id, data: o.op === 'PUT' ? o.data : null, checksum: opChecksum(o.op, 'todos', o.id, o.op === 'PUT' ? o.data : null) }));
  const checksum = wire.reduce((sum, op) => addChecksums(sum, op.checksum), priorChecksum);
  const last = String(after + ops.length);
  return {
    checksum,
    checkpoint: { type: 'checkpoint' as const, last_op_id: last, write_checkpoint: null, rules_version: 'v1', buckets: [{ bucket, checksum, count: after + ops.length, priority: 3 }] },
    data: { type: 'data' as const, bucket, after: String(after), next_after: last, has_more: false, ops: wire },
    complete: { type: 'checkpoint_complete' as const, last_op_id: last },
  };
}

async function run(sync: CheckpointSync, s: ReturnType<typeof stream>, withData = true) {
  sync.streamStarted();
  sync.checkpoint(s.checkpoint);
  if (withData && s.data.ops.length > 0) sync.data([s.data]);
  return (await sync.complete(s.complete)).kind;
}

const descriptions = (db: SqlDatabase) => db.all<{ id: string; description: string }>('SELECT id, description FROM todos ORDER BY id');

describe('rows that carry their bucket', () => {
  it('a first sync writes no oplog entries; REMOVEs, a local DELETE and a dropped bucket still find the rows', async () => {
    const db = await openNodeDatabase();
    const core = SyncCore.open({ db, schema: clientSchema, baseUrl: 'http://x.invalid', fetchToken: async () => ({ token: 't', expiresAt: Date.now() + 60_000 }) });
    const sync = new CheckpointSync(core.store, emptyUploadQueue, memoryLogger());
    const first = stream('b[]', 0, [{ op: 'PUT', id: 't1', data: todo('t1', 'Tea') }, { op: 'PUT', id: 't2', data: todo('t2', 'Milk') }, { op: 'PUT', id: 't3', data: todo('t3', 'Bread') }]);
    expect(await run(sync, first)).toBe('applied');
    expect(db.get('SELECT count(*) AS n FROM ls_oplog')).toEqual({ n: 0 });
    expect(db.all('SELECT id, bucket, op_id FROM ls_data__todos ORDER BY id')).toEqual([
      { id: 't1', bucket: 'b[]', op_id: 1 },
      { id: 't2', bucket: 'b[]', op_id: 2 },
      { id: 't3', bucket: 'b[]', op_id: 3 },
    ]);

    // A REMOVE of a row that only its carried bucket holds.
    const second = stream('b[]', 3, [{ op: 'REMOVE', id: 't3' }], first.checksum);
    expect(await run(sync, second)).toBe('applied');
    expect(descriptions(db).map((r) => r.id)).toEqual(['t1', 't2']);

    // A local DELETE: the server's next checkpoint still has t1 (say the write was refused), so it comes back.
    core.execute('DELETE FROM todos WHERE id = ?', ['t1']);
    expect(descriptions(db).map((r) => r.id)).toEqual(['t2']);
    expect(await run(sync, stream('b[]', 4, [], second.checksum), false)).toBe('applied');
    expect(descriptions(db)).toEqual([{ id: 't1', description: 'Tea' }, { id: 't2', description: 'Milk' }]);

    // The bucket leaves the user's set: every row it held goes.
    sync.streamStarted();
    sync.checkpoint({ type: 'checkpoint', last_op_id: '5', write_checkpoint: null, rules_version: 'v1', buckets: [] });
    expect((await sync.complete({ type: 'checkpoint_complete', last_op_id: '5' })).kind).toBe('applied');
    expect(descriptions(db)).toEqual([]);
    await core.close();
  });

  it('a database from before keeps its queue and positions; stale bucket columns of its store no longer count', async () => {
    const db = await openNodeDatabase();
    LocalStore.open(db, clientSchema);
    // The state an older client left: a store renamed from a stage whose bucket column went stale
    // (b[] removed t1, which c[] still holds through an oplog entry), and a queued local write.
    db.run("DELETE FROM ls_meta WHERE key = 'row_holders'");
    db.run('DROP TABLE ls_data__todos');
    db.run('CREATE TABLE ls_data__todos (id TEXT PRIMARY KEY NOT NULL, data TEXT NOT NULL, op_id INTEGER, bucket TEXT)');
    db.run("INSERT INTO ls_data__todos (id, data, op_id, bucket) VALUES ('t1', jsonb(?), 1, 'b[]'), ('t2', jsonb(?), 2, 'b[]')", [todo('t1', 'Tea'), todo('t2', 'Milk')]);
    db.run("INSERT INTO ls_oplog (tbl, row_id, bucket, op_id, data) VALUES ('todos', 't1', 'c[]', 1, ''), ('todos', 't2', 'b[]', 2, '')");
    db.run("INSERT INTO ls_buckets (name, position, checksum, op_count) VALUES ('b[]', 3, 111, 3), ('c[]', 1, 222, 1)");
    db.run("INSERT INTO ls_meta (key, value) VALUES ('rules_version', 'v1')");
    db.run("INSERT INTO ls_upload_queue (tx_id, created_at) VALUES ('tx1', 1)");
    db.run(`INSERT INTO ls_upload_ops (tx_id, op, tbl, row_id, data) VALUES ('tx1', 'PATCH', 'todos', 't2', '{"description":"Oat milk"}')`);
    const queueBefore = db.all('SELECT * FROM ls_upload_queue JOIN ls_upload_ops USING (tx_id)');

    const store = LocalStore.open(db, clientSchema);
    expect(db.all('SELECT * FROM ls_upload_queue JOIN ls_upload_ops USING (tx_id)')).toEqual(queueBefore);
    expect(db.all('SELECT name, position, checksum FROM ls_buckets ORDER BY name')).toEqual([
      { name: 'b[]', position: 3, checksum: 111 },
      { name: 'c[]', position: 1, checksum: 222 },
    ]);
    expect(db.all('SELECT id, bucket, op_id FROM ls_data__todos ORDER BY id')).toEqual([
      { id: 't1', bucket: null, op_id: null },
      { id: 't2', bucket: null, op_id: null },
    ]);
    expect(db.get("SELECT value FROM ls_meta WHERE key = 'row_holders'")).toEqual({ value: 'store' });

    // c[] removes t1: no bucket holds it any more (the stale 'b[]' in its row must not keep it).
    const sync = new CheckpointSync(store, emptyUploadQueue, memoryLogger());
    const remove = { op_id: '4', op: 'REMOVE' as const, table: 'todos', row_id: 't1', data: null, checksum: opChecksum('REMOVE', 'todos', 't1', null) };
    sync.streamStarted();
    sync.checkpoint({ type: 'checkpoint', last_op_id: '4', write_checkpoint: null, rules_version: 'v1', buckets: [{ bucket: 'b[]', checksum: 111, count: 3, priority: 3 }, { bucket: 'c[]', checksum: addChecksums(222, remove.checksum), count: 2, priority: 3 }] });
    sync.data([{ type: 'data', bucket: 'c[]', after: '1', next_after: '4', has_more: false, ops: [remove] }]);
    expect((await sync.complete({ type: 'checkpoint_complete', last_op_id: '4' })).kind).toBe('applied');
    expect(descriptions(db)).toEqual([{ id: 't2', description: 'Milk' }]);
    db.close();
  });

  it('a first sync cut short in the old bulk mode is downloaded again, keeping the queue', async () => {
    const db = await openNodeDatabase();
    LocalStore.open(db, clientSchema);
    // An older client mid first sync: a stage with its rows, data-less oplog entries, a position.
    db.run("DELETE FROM ls_meta WHERE key = 'row_holders'");
    db.run("INSERT INTO ls_bulk (tbl) VALUES ('todos')");
    db.run('CREATE TABLE ls_stage__todos (id TEXT PRIMARY KEY NOT NULL, data TEXT NOT NULL, op_id INTEGER, bucket TEXT)');
    db.run("INSERT INTO ls_stage__todos (id, data, op_id, bucket) VALUES ('t1', jsonb(?), 1, 'b[]')", [todo('t1', 'Tea')]);
    db.run("INSERT INTO ls_oplog (tbl, row_id, bucket, op_id, data) VALUES ('todos', 't1', 'b[]', 1, '')");
    db.run("INSERT INTO ls_buckets (name, position, checksum, op_count) VALUES ('b[]', 1, 5, 1)");
    db.run("INSERT INTO ls_meta (key, value) VALUES ('rules_version', 'v1')");
    db.run("INSERT INTO ls_upload_queue (tx_id, created_at) VALUES ('tx1', 1)");
    db.run(`INSERT INTO ls_upload_ops (tx_id, op, tbl, row_id, data) VALUES ('tx1', 'PUT', 'todos', 't9', '{"id":"t9"}')`);

    const store = LocalStore.open(db, clientSchema);
    expect(db.get("SELECT count(*) AS n FROM sqlite_schema WHERE name = 'ls_stage__todos'")).toEqual({ n: 0 });
    expect(db.all('SELECT * FROM ls_bulk')).toEqual([]);
    expect(db.get("SELECT position FROM ls_buckets WHERE name = 'b[]'")).toEqual({ position: 0 });
    expect(db.get('SELECT count(*) AS n FROM ls_upload_ops')).toEqual({ n: 1 });

    const sync = new CheckpointSync(store, emptyUploadQueue, memoryLogger());
    expect(sync.request().buckets).toEqual([]);
    expect(await run(sync, stream('b[]', 0, [{ op: 'PUT', id: 't1', data: todo('t1', 'Tea') }, { op: 'PUT', id: 't2', data: todo('t2', 'Milk') }]))).toBe('applied');
    expect(descriptions(db)).toEqual([{ id: 't1', description: 'Tea' }, { id: 't2', description: 'Milk' }]);
    db.close();
  });
});
