import { clientSchema as generatedSchema } from '@/lib/sync/generated/client-schema';
import { SyncCore, type SyncCoreOptions } from './core';
import { openNodeDatabase } from './db/open-node';

export type NodeSyncClientOptions = Omit<SyncCoreOptions, 'db' | 'schema'> & Partial<Pick<SyncCoreOptions, 'db' | 'schema'>>;

/**
 * The sync client in Node: sqlite-wasm in memory, the same core as the browser's worker. For
 * tests, scripts and benchmarks. `schema` defaults to the generated client schema.
 *
 * @example
 *   const client = await createNodeSyncClient({ baseUrl: 'http://127.0.0.1:3000', fetchToken: async () => ({ token, expiresAt }) });
 *   client.start();
 *   await client.engine.waitFor((s) => s.hasSynced);
 *   client.query('SELECT count(*) AS n FROM todos');
 */
export async function createNodeSyncClient(options: NodeSyncClientOptions): Promise<SyncCore> {
  const db = options.db ?? (await openNodeDatabase());
  return SyncCore.open({ ...options, db, schema: options.schema ?? generatedSchema, storage: options.storage ?? { kind: 'memory', warning: null } });
}
