import { describe, expect, it } from 'vitest';
import { clientSchema } from '@/lib/sync/generated/client-schema';
import { SyncCore } from '../core';
import { openNodeDatabase } from '../db/open-node';

/** The view triggers are TEMP (writes/triggers.ts): made on each open, none left in the file. */
describe('write triggers', () => {
  it('are TEMP, replace the persistent ones of a database from before, and still queue every write', async () => {
    const db = await openNodeDatabase();
    // A database from before: persistent triggers and a persistent ls_upload_current.
    SyncCore.open({ db, schema: clientSchema, baseUrl: 'http://x.invalid', fetchToken: async () => ({ token: 't', expiresAt: Date.now() + 60_000 }) });
    db.run('CREATE TABLE main.ls_upload_current (tx_id TEXT NOT NULL)');
    db.run("DROP TRIGGER temp.ls_write__todos__update");
    db.run("CREATE TRIGGER main.ls_write__todos__update INSTEAD OF UPDATE ON main.todos BEGIN SELECT RAISE(ABORT, 'old trigger'); END");

    const core = SyncCore.open({ db, schema: clientSchema, baseUrl: 'http://x.invalid', fetchToken: async () => ({ token: 't', expiresAt: Date.now() + 60_000 }) });
    expect(db.all("SELECT name FROM sqlite_schema WHERE type = 'trigger' OR name = 'ls_upload_current'")).toEqual([]);
    expect(db.all("SELECT name FROM sqlite_temp_schema WHERE type = 'trigger' AND tbl_name = 'todos' ORDER BY name").map((r) => r.name)).toEqual(['ls_write__todos__delete', 'ls_write__todos__insert', 'ls_write__todos__update']);

    core.execute('INSERT INTO todos (id, list_id, description, completed, created_at) VALUES (?, ?, ?, 0, ?)', ['t1', 'l1', 'Tea', '2026-01-01']);
    core.execute('UPDATE todos SET description = ? WHERE id = ?', ['Green tea', 't1']);
    expect(core.query('SELECT description FROM todos')).toEqual([{ description: 'Green tea' }]);
    expect(core.uploadQueue().map((e) => e.transaction.ops.map((op) => op.op))).toEqual([['PUT'], ['PATCH']]);
    // Outside a local transaction the triggers still refuse the write (it would miss the queue).
    expect(() => db.run("UPDATE todos SET description = 'x' WHERE id = 't1'")).toThrow(/write local tables through the sync client/);
    expect(db.get('SELECT count(*) AS n FROM ls_upload_current')).toEqual({ n: 0 });
    await core.close();
  });
});
