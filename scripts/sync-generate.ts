/**
 * `npm run sync:generate`: compiles sync.config.ts and writes the publication migration into
 * drizzle/ and the typed client schema into lib/sync/generated/. Running it twice changes nothing.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { compileSyncRules } from '@/lib/sync/config';
import { generateSyncArtifacts } from '@/lib/sync/config/generate/generate';

async function main(): Promise<void> {
  const root = process.cwd();
  const source = process.env.LOCKSTEP_SYNC_CONFIG ?? 'sync.config.ts';
  const mod = (await import(pathToFileURL(path.resolve(root, source)).href)) as { default?: unknown };
  const rules = compileSyncRules(mod.default, { source });
  const { written } = generateSyncArtifacts(rules, root);
  if (written.length === 0) console.log(`sync:generate: up to date (rules version ${rules.version}).`);
  else for (const file of written) console.log(`sync:generate: wrote ${path.relative(root, file)} (rules version ${rules.version}).`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
