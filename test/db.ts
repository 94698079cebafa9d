import { randomBytes } from 'node:crypto';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { inject } from 'vitest';
import { withDatabase } from '@/lib/db/postgres/admin';
import { migrateAppDatabase } from '@/lib/db/migrate';
import * as schema from '@/lib/db/schema';

export interface TestDatabase {
  /** Connection URL of this file's own database. */
  url: string;
  name: string;
  pool: pg.Pool;
  db: NodePgDatabase<typeof schema>;
  /** Closes the pool and drops the database (also ends replication connections to it). */
  drop(): Promise<void>;
}

/** The superuser URL of the shared test server's `postgres` database. */
export function adminUrl(): string {
  return inject('pgAdminUrl');
}

/**
 * A fresh database on the shared test server, with the app's migrations applied unless
 * `migrate: false`. Call it in beforeAll and `drop()` in afterAll.
 */
export async function createTestDatabase(options: { prefix?: string; migrate?: boolean } = {}): Promise<TestDatabase> {
  const admin = adminUrl();
  const name = `${options.prefix ?? 't'}_${randomBytes(5).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  await client.end();
  const url = withDatabase(admin, name);
  if (options.migrate ?? true) await migrateAppDatabase(url);
  const pool = new pg.Pool({ connectionString: url, max: 5 });
  return {
    url,
    name,
    pool,
    db: drizzle(pool, { schema }),
    async drop() {
      await pool.end();
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      try {
        await c.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active`, [name]);
        await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
