/**
 * Starts the database worker. Kept to the exact `new Worker(new URL('./…', import.meta.url))`
 * shape: that is what Turbopack and webpack recognise as a worker entry to bundle.
 */
export function spawnDatabaseWorker(): Worker {
  return new Worker(new URL('./database.worker.ts', import.meta.url), { type: 'module' });
}
