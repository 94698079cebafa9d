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
