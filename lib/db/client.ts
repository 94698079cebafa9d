import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import * as schema from './schema';

export type AppDatabase = NodePgDatabase<typeof schema>;

const globalForDb = globalThis as unknown as { lockstepAppPool?: pg.Pool };

/** The app database (DATABASE_URL), shared by every request of this process. */
export function appPool(): pg.Pool {
  if (!globalForDb.lockstepAppPool) {
    const connectionString = process.env.DATABASE_URL;
    if (!connectionString) throw new Error('DATABASE_URL is not set. Start the app with `npm run dev` or `npm start`, which set it.');
    globalForDb.lockstepAppPool = new pg.Pool({ connectionString, max: 10 });
  }
  return globalForDb.lockstepAppPool;
}

export function appDb(): AppDatabase {
  return drizzle(appPool(), { schema });
}
