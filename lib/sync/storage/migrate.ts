import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { StorageErrorCode, storageError } from './errors';

/** Where the storage migrations live: plain SQL files named NNNN_name.sql, applied in name order. */
export const STORAGE_MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

const MIGRATION_FILE = /^\d{4}_[a-z0-9_]+\.sql$/;

export interface MigrateStorageResult {
  /** Names of the migrations applied by this call (empty when storage was up to date). */
  applied: string[];
}

/**
 * Brings the bucket storage database at `url` up to date. Idempotent and safe to run from several
 * processes at once: a session advisory lock serialises them, and each migration runs in its own
 * transaction together with its row in lockstep.storage_migrations.
 *
 * @example
 *   await migrateStorage(process.env.SYNC_DATABASE_URL!);
 */
export async function migrateStorage(url: string, options: { migrationsDir?: string } = {}): Promise<MigrateStorageResult> {
  const dir = options.migrationsDir ?? STORAGE_MIGRATIONS_DIR;
  const files = (await fs.readdir(dir)).filter((name) => MIGRATION_FILE.test(name)).sort();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // A different key from the app's migrator: both may run against one server at startup.
    await client.query("SELECT pg_advisory_lock(hashtext('lockstep:migrate-storage'))");
    await client.query('CREATE SCHEMA IF NOT EXISTS lockstep');
    await client.query(
      'CREATE TABLE IF NOT EXISTS lockstep.storage_migrations (name text PRIMARY KEY, sha256 text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = new Map((await client.query<{ name: string; sha256: string }>('SELECT name, sha256 FROM lockstep.storage_migrations')).rows.map((r) => [r.name, r.sha256]));
    const applied: string[] = [];
    for (const name of files) {
      const sql = await fs.readFile(path.join(dir, name), 'utf8');
      const sha256 = createHash('sha256').update(sql).digest('hex');
      const previous = done.get(name);
      if (previous !== undefined) {
        if (previous !== sha256) {
          throw storageError(
            StorageErrorCode.migrationChanged,
            `Storage migration ${name} was edited after it had been applied (sha256 ${previous.slice(0, 12)} → ${sha256.slice(0, 12)}). Migrations are append-only: restore the file and add a new one.`,
            { details: { name } },
          );
        }
        continue;
      }
      await applyOne(client, name, sql, sha256);
      applied.push(name);
    }
    return { applied };
  } finally {
    // Ending the session releases the advisory lock too, even if unlocking is never reached.
    await client.end();
  }
}

async function applyOne(client: pg.Client, name: string, sql: string, sha256: string): Promise<void> {
  try {
    await client.query('BEGIN');
    await client.query(sql);
    await client.query('INSERT INTO lockstep.storage_migrations (name, sha256) VALUES ($1, $2)', [name, sha256]);
    await client.query('COMMIT');
  } catch (cause: unknown) {
    // The migration's own error is the one worth reporting; a failed ROLLBACK only means the
    // connection is gone, which ends the transaction anyway.
    await client.query('ROLLBACK').catch(() => undefined);
    throw storageError(StorageErrorCode.migrationFailed, `Storage migration ${name} failed and was rolled back: ${(cause as Error).message}`, { cause, details: { name } });
  }
}
