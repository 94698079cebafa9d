import { describe, expect, it } from 'vitest';
import { openNodeDatabase } from '../db/open-node';

describe('WasmSqlDatabase rows as objects', () => {
  it('keys each row by column name (the last of two equal names wins; __proto__ is an ordinary key)', async () => {
    const db = await openNodeDatabase();
    db.script("CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER, b BLOB); INSERT INTO t VALUES ('a', 1, x'0102'), ('b', NULL, NULL)");
    expect(db.all('SELECT id, n, b FROM t ORDER BY id')).toEqual([
      { id: 'a', n: 1, b: new Uint8Array([1, 2]) },
      { id: 'b', n: null, b: null },
    ]);
    expect(db.all('SELECT id FROM t WHERE 0')).toEqual([]);
    expect(db.get('SELECT count(*) AS c FROM t')).toEqual({ c: 2 });
    expect(db.get('SELECT id FROM t WHERE 0')).toBeUndefined();
    const [row] = db.all('SELECT 1 AS a, 2 AS a, 3 AS "__proto__"');
    expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
    expect(Object.entries(row!)).toEqual([
      ['a', 2],
      ['__proto__', 3],
    ]);
    db.close();
  });
});

describe('WasmSqlDatabase long texts', () => {
  it('binds texts of any length and characters as oo1 does (ASCII, accents, emoji, lone surrogates, NUL)', async () => {
    const db = await openNodeDatabase();
    db.script('CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)');
    const texts = ['a'.repeat(5000), `${'é'.repeat(3000)}x`, `${'😀'.repeat(2000)}`, `${'b'.repeat(2000)}\ud800${'c'.repeat(10)}`, `${'n\u0000'.repeat(1000)}`, 'short é'];
    texts.forEach((v, k) => db.run('INSERT INTO t (k, v) VALUES (?, ?)', [k, v]));
    const back = db.all<{ v: string; n: number }>('SELECT v, length(CAST(v AS BLOB)) AS n FROM t ORDER BY k');
    texts.forEach((v, k) => {
      const bytes = new TextEncoder().encode(v);
      expect(back[k]!.n).toBe(bytes.length);
      expect(back[k]!.v).toBe(new TextDecoder().decode(bytes));
    });
    // As JSON text too (the page texts of a sync are bound this way).
    expect(db.get<{ n: number }>("SELECT count(*) AS n FROM json_each(?)", [JSON.stringify(texts)])!.n).toBe(texts.length);
    db.close();
  });
});
