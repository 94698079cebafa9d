import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startLocalCluster, type LocalCluster } from '@/lib/db/postgres/local-cluster';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lockstep-walcheck-'));
fs.chmodSync(tmp, 0o755);
let cluster: LocalCluster | undefined;

afterAll(async () => {
  await cluster?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function runDev(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'scripts/dev.ts'], { env: { ...process.env, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, output: `${stdout}${stderr}` });
    });
  });
}

describe('npm run dev with DATABASE_URL', () => {
  it('exits non-zero naming wal_level and the fix when the server is not set up for logical replication', async () => {
    const dataDir = path.join(tmp, 'replica');
    const first = await startLocalCluster({ dataDir, port: await freePort(), durability: 'test', log: () => {} });
    const client = new pg.Client({ connectionString: first.url() });
    await client.connect();
    await client.query('ALTER SYSTEM SET wal_level = replica');
    await client.end();
    await first.stop();
    cluster = await startLocalCluster({ dataDir, port: await freePort(), durability: 'test', log: () => {} });

    const result = await runDev({ DATABASE_URL: cluster.url('app'), PORT: String(await freePort()), HOST: '127.0.0.1' });
    expect(result.code).toBe(1);
    expect(result.output).toContain('WAL_LEVEL_NOT_LOGICAL');
    expect(result.output).toContain('wal_level=replica');
    expect(result.output).toContain('ALTER SYSTEM SET wal_level = logical');
    // Nothing was created on a server we refused.
    const check = new pg.Client({ connectionString: cluster.url() });
    await check.connect();
    const dbs = await check.query("SELECT 1 FROM pg_database WHERE datname = 'app'");
    await check.end();
    expect(dbs.rowCount).toBe(0);
  });
});
