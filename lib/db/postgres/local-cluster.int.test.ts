import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startLocalCluster, type LocalCluster } from './local-cluster';
import { isLockstepError } from '@/lib/sync/errors';

const run = promisify(execFile);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lockstep-cluster-'));
fs.chmodSync(tmp, 0o755);
const started: LocalCluster[] = [];

afterAll(async () => {
  for (const c of started) await c.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('local Postgres cluster', () => {
  it('initialises once, then reuses the cluster and its data', async () => {
    const dataDir = path.join(tmp, 'reuse');
    const first = await startLocalCluster({ dataDir, port: await freePort(), durability: 'test', log: () => {} });
    expect((await query<{ wal_level: string }>(first.url(), 'SHOW wal_level'))[0]?.wal_level).toBe('logical');
    await query(first.url(), 'CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)');
    const version = fs.statSync(path.join(dataDir, 'PG_VERSION')).mtimeMs;
    await first.stop();

    const second = await startLocalCluster({ dataDir, port: await freePort(), durability: 'test', log: () => {} });
    started.push(second);
    expect(fs.statSync(path.join(dataDir, 'PG_VERSION')).mtimeMs).toBe(version);
    expect(await query(second.url(), 'SELECT v FROM kept')).toEqual([{ v: 42 }]);
  });

  it('recovers from an orphaned server left by a run killed with SIGKILL', async () => {
    const dataDir = path.join(tmp, 'orphan');
    const port = await freePort();
    await expect(run(process.execPath, ['--import', 'tsx', 'test/fixtures/start-cluster-then-die.ts', dataDir, String(port)])).rejects.toMatchObject({ signal: 'SIGKILL' });
    // The orphan still holds the port and the data directory.
    expect(fs.existsSync(path.join(dataDir, 'postmaster.pid'))).toBe(true);

    const lines: string[] = [];
    const recovered = await startLocalCluster({ dataDir, port, durability: 'test', log: (l) => lines.push(l) });
    started.push(recovered);
    expect(lines.join('\n')).toMatch(/orphaned Postgres/);
    expect(await query(recovered.url(), 'SELECT note FROM survivor')).toEqual([{ note: 'written before SIGKILL' }]);
  });

  it('refuses a port that is taken, naming the setting to change', async () => {
    const holder = started[0]!;
    const error = await startLocalCluster({ dataDir: path.join(tmp, 'taken'), port: holder.port, durability: 'test', log: () => {} }).catch((e: unknown) => e);
    expect(isLockstepError(error, 'POSTGRES_PORT_IN_USE')).toBe(true);
    expect(String((error as Error).message)).toMatch(/LOCKSTEP_PG_PORT/);
  });
});
