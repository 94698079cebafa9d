/**
 * Entry of the database worker (a dedicated module worker, started by the leader tab with
 * `new Worker(new URL('./database.worker.ts', import.meta.url), { type: 'module' })`).
 */
import { serveDatabaseWorker, type WorkerScope } from './host';

serveDatabaseWorker(globalThis as unknown as WorkerScope);
