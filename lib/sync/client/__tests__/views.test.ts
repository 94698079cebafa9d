import { bigint, boolean, customType, doublePrecision, integer, jsonb, numeric, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import { bucket, compileSyncRules, defineSyncRules, from } from '@/lib/sync/config';
import { openNodeDatabase } from '../db/open-node';
import { LocalStore } from '../storage/local-store';

/**
 * The client schema's view SQL run in real SQLite (sqlite-wasm), over wire data made by the
 * compiled row evaluator: every wire type, and column names that need quoting in SQL and in
 * JSON paths.
 */
const bytea = customType<{ data: Buffer }>({ dataType: () => 'bytea' });

const oddities = pgTable('oddities', {
  id: uuid('id').primaryKey(),
  plain: text('plain'),
  dotted: text('with.dot'),
  quoted: text('say "hi"'),
  apostrophe: text("it's"),
  spaced: text('two words'),
  flag: boolean('flag'),
  small: integer('small'),
  big: bigint('big', { mode: 'bigint' }),
  money: numeric('money'),
  ratio: doublePrecision('ratio'),
  meta: jsonb('meta'),
  blob: bytea('blob'),
  at: timestamp('at', { withTimezone: true }),
});

const rules = compileSyncRules(defineSyncRules({ buckets: { all: bucket({ data: () => [from(oddities)] }) } }));

describe('client schema views in SQLite', () => {
  it('read every wire type back, whatever the column names', async () => {
    const db = await openNodeDatabase();
    LocalStore.open(db, rules.clientSchema);
    const row = {
      id: '5f0c7d2e-0000-4000-8000-00000000000a',
      plain: 'x',
      'with.dot': 'dot',
      'say "hi"': 'quote',
      "it's": 'apostrophe',
      'two words': 'space',
      flag: 't',
      small: '-42',
      big: '9007199254740993',
      money: '12.50',
      ratio: '1.5',
      meta: '{"a": [1, 2]}',
      blob: '\\xdeadbeef',
      at: '2026-01-02 03:04:05+00',
    };
    const key = rules.tableKey('public', 'oddities');
    rules.observeColumns(key, Object.keys(row));
    const [placed] = rules.evaluateRow(key, row);
    db.run('INSERT INTO ls_data__oddities (id, data) VALUES (?, ?)', [row.id, placed!.data]);
    const [got] = db.all('SELECT * FROM oddities');
    expect(got).toMatchObject({
      id: row.id,
      plain: 'x',
      'with.dot': 'dot',
      'say "hi"': 'quote',
      "it's": 'apostrophe',
      'two words': 'space',
      flag: 1,
      small: -42,
      big: 9007199254740993n,
      money: '12.50',
      ratio: 1.5,
      blob: new Uint8Array([0xde, 0xad, 0xbe, 0xef]),
    });
    expect(JSON.parse(String(got!.meta))).toEqual({ a: [1, 2] });
    expect(typeof got!.at).toBe('string');
    db.close();
  });

  it('are made in one transaction with the rest of the layout: a schema that fails leaves nothing behind', async () => {
    const db = await openNodeDatabase();
    const [table] = rules.clientSchema.tables;
    const broken = { ...rules.clientSchema, tables: [{ ...table!, createViewSql: 'CREATE VIEW oddities AS SELEC 1' }] };
    expect(() => LocalStore.open(db, broken)).toThrow();
    expect(db.all("SELECT name FROM sqlite_schema WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")).toEqual([]);
    expect(db.get<{ user_version: number }>('PRAGMA user_version')?.user_version).toBe(0);
    // The same database then opens with the real schema.
    LocalStore.open(db, rules.clientSchema);
    expect(db.all('SELECT * FROM oddities')).toEqual([]);
    db.close();
  });
});
