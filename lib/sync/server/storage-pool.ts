import pg from 'pg';
import { storageUrlFromEnv } from './from-env';

const globalForStorage = globalThis as unknown as { lockstepStoragePool?: pg.Pool };

/** Bucket storage (SYNC_DATABASE_URL) for server actions, one pool per process. */
export function storagePool(): pg.Pool {
  if (!globalForStorage.lockstepStoragePool) {
    const pool = new pg.Pool({ connectionString: storageUrlFromEnv(), max: 5 });
    pool.on('error', () => undefined); // an idle client dropped; the next query reconnects
    globalForStorage.lockstepStoragePool = pool;
  }
  return globalForStorage.lockstepStoragePool;
}
