import type { SqlDatabase } from '../db/database';

/** Every row of every store table: `${table}/${rowId}` → data, sorted by key. */
export function storeContents(db: SqlDatabase): Record<string, string> {
  const tables = db.all<{ name: string }>("SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE 'ls\\_data\\_\\_%' ESCAPE '\\' ORDER BY name");
  const out: Array<[string, string]> = [];
  for (const { name } of tables) {
    const table = name.slice('ls_data__'.length);
    // The store keeps JSONB (storage/data-format.ts): compare as JSON text.
    for (const row of db.all<{ id: string; data: string }>(`SELECT id, json(data) AS data FROM "${name.replace(/"/g, '""')}"`)) out.push([`${table}/${row.id}`, row.data]);
  }
  out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(out);
}

/** The rows a user should hold, from bucket contents (bucket → `${table}/${rowId}` → data): their union. */
export function unionOfBuckets(buckets: Record<string, Record<string, string>>): Record<string, string> {
  const out = new Map<string, string>();
  for (const rows of Object.values(buckets)) for (const [key, data] of Object.entries(rows)) out.set(key, data);
  return Object.fromEntries([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
