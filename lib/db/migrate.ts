import path from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';

/** Applies the app's drizzle/ migrations to the database at `url`; already applied ones are skipped. */
export async function migrateAppDatabase(url: string, migrationsFolder = path.join(process.cwd(), 'drizzle')): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // Serialise concurrent migrators (two dev servers, parallel test workers) on one database.
    await client.query("SELECT pg_advisory_lock(hashtext('lockstep:migrate-app'))");
    await migrate(drizzle(client), { migrationsFolder });
  } finally {
    await client.end();
  }
}
