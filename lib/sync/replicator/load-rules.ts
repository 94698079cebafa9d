import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { compileSyncRules, type CompiledSyncRules } from '@/lib/sync/config';

/** Loads and compiles the app's sync.config.ts (LOCKSTEP_SYNC_CONFIG to use another file). */
export async function loadSyncRules(file = process.env.LOCKSTEP_SYNC_CONFIG ?? 'sync.config.ts'): Promise<CompiledSyncRules> {
  const mod = (await import(/* webpackIgnore: true */ pathToFileURL(path.resolve(file)).href)) as { default?: unknown };
  return compileSyncRules(mod.default as Parameters<typeof compileSyncRules>[0]);
}
