import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CompiledSyncRules } from '../compile-sync-rules';
import { syncPublicationMigration } from './publication-migration';

/** Where `npm run sync:generate` writes, relative to the project root. */
export const GENERATED_PATHS = {
  migrations: 'drizzle',
  clientModule: 'lib/sync/generated/client-schema.ts',
} as const;

export interface GenerateResult {
  /** Files written; empty when everything was already up to date. */
  written: string[];
}

/**
 * Writes what the sync rules compile to into the project: the publication migration (drizzle/)
 * and the typed client schema module. Idempotent: files already up to date are left untouched.
 */
export function generateSyncArtifacts(rules: CompiledSyncRules, root: string): GenerateResult {
  const written: string[] = [];
  const migration = syncPublicationMigration(path.join(root, GENERATED_PATHS.migrations), rules.publicationSql());
  if (migration.changed) written.push(migration.file);
  const modulePath = path.join(root, GENERATED_PATHS.clientModule);
  if (writeIfChanged(modulePath, rules.clientModuleSource())) written.push(modulePath);
  return { written };
}

function writeIfChanged(file: string, text: string): boolean {
  if (existsSync(file) && readFileSync(file, 'utf8') === text) return false;
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return true;
}
