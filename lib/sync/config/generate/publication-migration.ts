import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '@/lib/sync/errors';

/** Tag suffix of the migrations that set the publication: `NNNN_lockstep_publication`. */
export const PUBLICATION_MIGRATION = 'lockstep_publication';

interface JournalEntry {
  idx: number;
  version: string;
  when: number;
  tag: string;
  breakpoints: boolean;
}

interface Journal {
  version: string;
  dialect: string;
  entries: JournalEntry[];
}

/** The migration file's text: a header comment and the idempotent publication SQL. */
export function publicationMigrationText(publicationSql: string): string {
  return [
    '-- Lockstep: the logical replication publication for exactly the tables sync.config.ts reads.',
    '-- Written by `npm run sync:generate` (docs/sync-rules.md#publication); regenerate it instead of editing.',
    publicationSql,
    '',
  ].join('\n');
}

/**
 * Makes sure the newest publication migration in `dir` (a drizzle-kit migrations folder) sets
 * exactly this SQL; otherwise appends a custom migration the way `drizzle-kit generate --custom`
 * does: the SQL file, a journal entry, and a copy of the latest snapshot (a custom migration
 * does not change the Drizzle schema). Running it again changes nothing.
 */
export function syncPublicationMigration(dir: string, publicationSql: string): { changed: boolean; file: string } {
  const journalPath = path.join(dir, 'meta', '_journal.json');
  if (!existsSync(journalPath)) {
    throw new ConfigError('SYNC_GENERATE_NO_MIGRATIONS', `${dir} has no meta/_journal.json. Fix: generate the schema migrations first (npm run db:generate), then run npm run sync:generate.`);
  }
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as Journal;
  const text = publicationMigrationText(publicationSql);
  const previous = [...journal.entries].reverse().find((e) => e.tag.endsWith(`_${PUBLICATION_MIGRATION}`));
  if (previous) {
    const file = path.join(dir, `${previous.tag}.sql`);
    if (existsSync(file) && readFileSync(file, 'utf8') === text) return { changed: false, file };
  }
  const last = journal.entries.at(-1);
  const idx = last === undefined ? 0 : last.idx + 1;
  const tag = `${String(idx).padStart(4, '0')}_${PUBLICATION_MIGRATION}`;
  const file = path.join(dir, `${tag}.sql`);
  writeSnapshotCopy(path.join(dir, 'meta'), tag.slice(0, 4));
  writeFileSync(file, text);
  journal.entries.push({ idx, version: last?.version ?? '7', when: Math.max(Date.now(), (last?.when ?? 0) + 1), tag, breakpoints: true });
  writeFileSync(journalPath, JSON.stringify(journal, null, 2));
  return { changed: true, file };
}

function writeSnapshotCopy(metaDir: string, prefix: string): void {
  const snapshots = readdirSync(metaDir)
    .filter((f) => f.endsWith('_snapshot.json'))
    .sort();
  const latest = snapshots.at(-1);
  if (latest === undefined) {
    throw new ConfigError('SYNC_GENERATE_NO_MIGRATIONS', `${metaDir} has no snapshot. Fix: generate the schema migrations first (npm run db:generate), then run npm run sync:generate.`);
  }
  const snapshot = JSON.parse(readFileSync(path.join(metaDir, latest), 'utf8')) as Record<string, unknown>;
  const copy = { ...snapshot, id: randomUUID(), prevId: snapshot.id };
  writeFileSync(path.join(metaDir, `${prefix}_snapshot.json`), JSON.stringify(copy, null, 2));
}
