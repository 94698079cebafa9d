import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import rulesConfig from '@/sync.config';
import { users } from '@/lib/db/schema';
import { bucket, compileSyncRules, defineSyncRules, from } from '@/lib/sync/config';
import { generateSyncArtifacts, GENERATED_PATHS } from '../generate/generate';
import { publicationMigrationText } from '../generate/publication-migration';

const rules = compileSyncRules(rulesConfig);
const repo = process.cwd();
let dirs: string[] = [];

/** A scratch project holding a copy of the repository's drizzle/ folder and generated client schema. */
function scratchProject(options: { withoutPublication?: boolean } = {}): string {
  const root = mkdtempSync(path.join(tmpdir(), 'lockstep-generate-'));
  dirs.push(root);
  cpSync(path.join(repo, 'drizzle'), path.join(root, 'drizzle'), { recursive: true });
  if (options.withoutPublication) {
    const journalPath = path.join(root, 'drizzle/meta/_journal.json');
    const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: Array<{ tag: string; idx: number }> };
    for (const entry of journal.entries.filter((e) => e.tag.endsWith('_lockstep_publication'))) {
      rmSync(path.join(root, 'drizzle', `${entry.tag}.sql`));
      rmSync(path.join(root, 'drizzle/meta', `${entry.tag.slice(0, 4)}_snapshot.json`));
    }
    journal.entries = journal.entries.filter((e) => !e.tag.endsWith('_lockstep_publication'));
    writeFileSync(journalPath, JSON.stringify(journal, null, 2));
  }
  return root;
}

/** Every file under `root` with its content, to compare before and after. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const relative of readdirSync(root, { recursive: true, encoding: 'utf8' })) {
    const file = path.join(root, relative);
    if (statSync(file).isFile()) out[relative] = readFileSync(file, 'utf8');
  }
  return out;
}

afterEach(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

describe('npm run sync:generate', () => {
  it('finds the committed publication migration and client schema up to date', () => {
    const root = scratchProject();
    cpSync(path.join(repo, GENERATED_PATHS.clientModule), path.join(root, GENERATED_PATHS.clientModule));
    const before = snapshot(root);
    expect(generateSyncArtifacts(rules, root).written).toEqual([]);
    expect(snapshot(root)).toEqual(before);
  });

  it('writes a drizzle-kit custom migration once; a second run changes nothing', () => {
    const root = scratchProject({ withoutPublication: true });
    const first = generateSyncArtifacts(rules, root);
    expect(first.written.map((f) => path.relative(root, f))).toEqual([expect.stringMatching(/^drizzle\/\d{4}_lockstep_publication\.sql$/), GENERATED_PATHS.clientModule]);
    const afterFirst = snapshot(root);
    expect(generateSyncArtifacts(rules, root).written).toEqual([]);
    expect(snapshot(root)).toEqual(afterFirst);

    const journal = JSON.parse(afterFirst['drizzle/meta/_journal.json']!) as { entries: Array<{ idx: number; tag: string; when: number; breakpoints: boolean }> };
    const entry = journal.entries.at(-1)!;
    const previous = journal.entries.at(-2)!;
    expect(entry).toMatchObject({ idx: previous.idx + 1, breakpoints: true, version: '7' });
    expect(entry.when).toBeGreaterThan(previous.when);
    expect(afterFirst[`drizzle/${entry.tag}.sql`]).toBe(publicationMigrationText(rules.publicationSql()));
    const snapshotOf = (idx: number) => JSON.parse(afterFirst[`drizzle/meta/${String(idx).padStart(4, '0')}_snapshot.json`]!) as { id: string; prevId: string; tables: unknown };
    expect(snapshotOf(entry.idx).prevId).toBe(snapshotOf(previous.idx).id);
    expect(snapshotOf(entry.idx).tables).toEqual(snapshotOf(previous.idx).tables);
  });

  it('appends a new migration when the tables read change', () => {
    const root = scratchProject();
    const usersOnly = compileSyncRules(defineSyncRules({ buckets: { everyone: bucket({ data: () => [from(users).omit(users.passwordHash)] }) } }));
    const { written } = generateSyncArtifacts(usersOnly, root);
    const migration = written.find((f) => f.endsWith('.sql'));
    expect(readFileSync(migration!, 'utf8')).toContain('SET TABLE "public"."users";');
    expect(generateSyncArtifacts(usersOnly, root).written).toEqual([]);
    expect(generateSyncArtifacts(rules, root).written.filter((f) => f.endsWith('.sql'))).toHaveLength(1);
  });
});
