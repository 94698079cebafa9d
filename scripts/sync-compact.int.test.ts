import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorageDatabase, put, readAllOps } from '@/lib/sync/storage/__tests__/helpers';
import { syncCompact } from './sync-compact';

let t: Awaited<ReturnType<typeof createStorageDatabase>>;
beforeAll(async () => {
  t = await createStorageDatabase();
});
afterAll(async () => {
  await t?.drop();
});

describe('npm run sync:compact', () => {
  it('refuses storage without an active version, with a message saying why', async () => {
    await expect(syncCompact({ url: t.url, print: () => {} })).rejects.toThrow(/No rules version is active/);
  });

  it('compacts the active version and prints ops and sizes before and after', async () => {
    const version = await t.storage.createRulesVersion({ versionHash: 'abc', slotName: 'slot' });
    await t.storage.activateRulesVersion(version.id);
    for (let i = 0; i < 5; i++) await t.storage.commitBatch(version.id, { ops: [put('b', 'r1', `{"v":${i}}`), put('b', 'r2', `{"v":${i}}`)], checkpoint: true });
    const lines: string[] = [];
    const result = await syncCompact({ url: t.url, print: (line) => lines.push(line) });
    expect(result).toMatchObject({ opsBefore: 10, opsAfter: 3 });
    expect(lines.join('\n')).toMatch(/ops\s+10 → 3/);
    expect(lines.join('\n')).toMatch(/lockstep\.ops on disk\s+[\d.]+ MB → [\d.]+ MB/);
    expect((await readAllOps(t.storage, version.id, 'b', 0, 100)).map((o) => o.op)).toEqual(['CLEAR', 'PUT', 'PUT']);
  });

  it('runs as a command against SYNC_DATABASE_URL', async () => {
    const { stdout } = await promisify(execFile)('npx', ['tsx', 'scripts/sync-compact.ts', '--no-vacuum'], { env: { ...process.env, SYNC_DATABASE_URL: t.url } });
    expect(stdout).toMatch(/Compacting rules version \d+ \(active, rules abc\)/);
    expect(stdout).toMatch(/buckets compacted\s+0 of 1/); // nothing changed since the previous run
  });
});
