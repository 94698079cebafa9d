import type { SqlDatabase } from '../db/database';

/** Keys of ls_meta. */
export type MetaKey = 'client_id' | 'rules_version' | 'applied_op_id' | 'write_checkpoint' | 'last_synced_at' | 'schema_version' | 'views' | 'data_format' | 'row_holders';

export function getMeta(db: SqlDatabase, key: MetaKey): string | null {
  const row = db.get<{ value: string | null }>('SELECT value FROM ls_meta WHERE key = ?', [key]);
  return row?.value ?? null;
}

export function setMeta(db: SqlDatabase, key: MetaKey, value: string | null): void {
  db.run('INSERT INTO ls_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
}
