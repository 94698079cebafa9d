/** Setup for bench/stream.ts: databases, seed data, child processes, statistics. */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import syncConfig from '@/sync.config';
import { withDatabase } from '@/lib/db/postgres/admin';
import { freePort } from '@/lib/db/postgres/local-cluster';
import { migrateAppDatabase } from '@/lib/db/migrate';
import { compileSyncRules } from '@/lib/sync/config';
import { migrateStorage } from '@/lib/sync/storage';
import type { GcTime, RoundCounts, ServerMessage } from './stream-server';

export interface BenchDatabases {
  appUrl: string;
  storageUrl: string;
  drop(): Promise<void>;
}

/** A fresh app database (migrated, with the publication) and an empty bucket storage. */
export async function createDatabases(adminUrl: string): Promise<BenchDatabases> {
  const suffix = randomBytes(4).toString('hex');
  const names = [`bench_stream_app_${suffix}`, `bench_stream_store_${suffix}`];
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  for (const name of names) await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const [appUrl, storageUrl] = names.map((n) => withDatabase(adminUrl, n)) as [string, string];
  await migrateAppDatabase(appUrl);
  const app = new pg.Client({ connectionString: appUrl });
  await app.connect();
  await app.query(compileSyncRules(syncConfig).publicationSql());
  await app.end();
  await migrateStorage(storageUrl);
  return {
    appUrl,
    storageUrl,
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        for (const name of names) {
          await c.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active', [name]);
          await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        }
      } finally {
        await c.end();
      }
    },
  };
}

export interface Seeded {
  /** Owner of the list with `bigRows` todos. */
  bigUser: string;
  bigList: string;
  /** One user per latency client, each owning one small list. */
  users: Array<{ id: string; list: string }>;
}

/** The benchmark's data: one list of `bigRows` todos, and `userCount` users with a list each. */
export async function seed(appUrl: string, bigRows: number, userCount: number): Promise<Seeded> {
  const app = new pg.Client({ connectionString: appUrl });
  await app.connect();
  try {
    const bigUser = (await app.query<{ id: string }>("INSERT INTO users (email, name) VALUES ('big@example.com', 'Big') RETURNING id")).rows[0]!.id;
    const bigList = (await app.query<{ id: string }>("INSERT INTO lists (name, owner_id) VALUES ('Big list', $1) RETURNING id", [bigUser])).rows[0]!.id;
    await app.query(
      `INSERT INTO todos (list_id, description, completed, created_by)
       SELECT $1, 'Todo number ' || i || ': ' || md5(i::text), i % 3 = 0, $2 FROM generate_series(1, $3::int) AS i`,
      [bigList, bigUser, bigRows],
    );
    const users = await app.query<{ id: string; list: string }>(
      `WITH u AS (
         INSERT INTO users (email, name) SELECT 'user' || i || '@example.com', 'User ' || i FROM generate_series(1, $1::int) AS i RETURNING id
       ), l AS (
         INSERT INTO lists (name, owner_id) SELECT 'List of ' || id, id FROM u RETURNING id, owner_id
       )
       SELECT owner_id AS id, id AS list FROM l`,
      [userCount],
    );
    return { bigUser, bigList, users: users.rows };
  } finally {
    await app.end();
  }
}

export interface BucketSizes {
  /** A user whose one list holds `largeRows` todos (none asked: undefined). */
  large: { id: string; list: string } | undefined;
  /** A user whose one list holds 10 todos. */
  small: { id: string; list: string };
}

/** More users for the bucket-size latency: one with a list of `largeRows` todos (unless undefined), one with a list of 10. */
export async function seedBucketSizes(appUrl: string, largeRows: number | undefined): Promise<BucketSizes> {
  const app = new pg.Client({ connectionString: appUrl });
  await app.connect();
  try {
    const make = async (name: string, rows: number) => {
      const id = (await app.query<{ id: string }>('INSERT INTO users (email, name) VALUES ($1, $2) RETURNING id', [`${name}@example.com`, name])).rows[0]!.id;
      const list = (await app.query<{ id: string }>('INSERT INTO lists (name, owner_id) VALUES ($1, $2) RETURNING id', [`${name} list`, id])).rows[0]!.id;
      await app.query(
        `INSERT INTO todos (list_id, description, completed, created_by)
         SELECT $1, 'Todo number ' || i || ': ' || md5(i::text), i % 3 = 0, $2 FROM generate_series(1, $3::int) AS i`,
        [list, id, rows],
      );
      return { id, list };
    };
    return { large: largeRows === undefined ? undefined : await make('large-bucket', largeRows), small: await make('small-bucket', 10) };
  } finally {
    await app.end();
  }
}

/** Polls until `fn` returns a value. */
export async function poll<T>(fn: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until the replicator has an active rules version that has confirmed the source's current WAL position. */
export async function waitForCatchUp(appUrl: string, storageUrl: string, timeoutMs = 600_000): Promise<number> {
  const app = new pg.Client({ connectionString: appUrl });
  const storage = new pg.Client({ connectionString: storageUrl });
  await app.connect();
  await storage.connect();
  try {
    // The insert position: with synchronous_commit=off a commit can be ahead of the write position.
    const target = (await app.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0]!.lsn;
    return await poll(async () => {
      const v = (await storage.query<{ id: number; slot_name: string }>("SELECT id, slot_name FROM lockstep.rules_versions WHERE state = 'active'")).rows[0];
      if (!v) return undefined;
      const r = await app.query<{ ok: boolean }>('SELECT confirmed_flush_lsn >= $2::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = $1', [v.slot_name, target]);
      return r.rows[0]?.ok ? v.id : undefined;
    }, timeoutMs, 'the replicator to catch up');
  } finally {
    await app.end();
    await storage.end();
  }
}

/** The replicator (workers/replicator.ts) as a child process. */
export function startReplicator(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'workers/replicator.ts'], { env: { ...process.env, ...env, LOCKSTEP_LOG_LEVEL: 'warn', LOCKSTEP_COMPACT_EVERY_MS: '0' }, stdio: ['ignore', 'ignore', 'inherit'] });
}

export interface ServerChild {
  port: number;
  /** The server's process id (whose memory memory() reports). */
  pid: number;
  memory(): Promise<Extract<ServerMessage, { type: 'memory' }>>;
  /** The server process's CPU time so far (user + system), in µs, its time in GC and its hub's round counts (when it reports them). */
  cpu(): Promise<{ micros: number; rounds?: RoundCounts; gc?: GcTime }>;
  stop(): Promise<void>;
}

/**
 * V8 options for the server process (either endpoint), e.g. BENCH_SERVER_NODE_OPTIONS=--max-semi-space-size=32
 * to see what a larger young generation does to the fan-out's scavenges.
 */
const serverNodeOptions = (process.env.BENCH_SERVER_NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean);

/** bench/stream-server.ts as a child process; resolves once it listens. */
export async function startServer(env: Record<string, string>): Promise<ServerChild> {
  const child = fork('bench/stream-server.ts', [], {
    env: { ...process.env, ...env },
    execArgv: ['--expose-gc', '--max-old-space-size=4096', ...serverNodeOptions, ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.BENCH_CPU_PROF] : []), '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = <T extends ServerMessage['type']>(type: T) =>
    new Promise<Extract<ServerMessage, { type: T }>>((resolve, reject) => {
      const onMessage = (m: ServerMessage) => {
        if (m.type !== type) return;
        child.off('message', onMessage);
        resolve(m as Extract<ServerMessage, { type: T }>);
      };
      child.on('message', onMessage);
      child.once('exit', (code) => reject(new Error(`stream server exited (${code})`)));
    });
  const { port } = await next('listening');
  return {
    port,
    pid: child.pid!,
    memory() {
      const answer = next('memory');
      child.send({ type: 'memory' });
      return answer;
    },
    async cpu() {
      const answer = next('cpu');
      child.send({ type: 'cpu' });
      return await answer;
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send({ type: 'stop' });
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/**
 * The app itself in production mode as the sync endpoint: `next start` of the build in `distDir`
 * (bench/app-build.ts), spawned straight from node_modules/.bin/next so that the child is the
 * server process. bench/next-probe.cjs, preloaded into it, answers memory() over IPC. Resolves
 * once the app answers HTTP. `appDir` serves another app's build instead (bench/next-floor).
 */
export async function startNextServer(env: Record<string, string>, distDir: string, appDir?: string): Promise<ServerChild> {
  const port = await freePort();
  const output: string[] = [];
  const child = spawn('node_modules/.bin/next', ['start', ...(appDir ? [appDir] : []), '--port', String(port), '--hostname', '127.0.0.1'], {
    env: {
      ...process.env,
      ...env,
      // Not the bench's own NODE_OPTIONS (tsx's loader must not run in the server).
      NODE_OPTIONS: [`--expose-gc --max-old-space-size=4096`, ...serverNodeOptions, `--require ${path.resolve('bench/next-probe.cjs')}`].join(' '),
      NODE_ENV: 'production',
      LOCKSTEP_DIST_DIR: distDir,
      NEXT_TELEMETRY_DISABLED: '1',
      NEXTAUTH_URL: `http://127.0.0.1:${port}`,
      NEXTAUTH_SECRET: randomBytes(32).toString('base64url'),
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.on('data', (chunk: Buffer) => {
      output.push(chunk.toString());
      // The server's warnings and errors are shown as they come; its startup banner is not.
      if (stream === child.stderr) process.stderr.write(chunk);
    });
  }
  const exited = new Promise<never>((_, reject) => child.once('exit', (code, signal) => reject(new Error(`next start exited (${signal ?? code}):\n${output.join('').slice(-3000)}`))));
  exited.catch(() => undefined);
  const deadline = Date.now() + 120_000;
  for (;;) {
    const answered = await Promise.race([
      fetch(`http://127.0.0.1:${port}/api/sync/jwks`).then(
        (r) => r.status < 500,
        () => false,
      ),
      exited,
    ]);
    if (answered) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`next start did not answer within 120 s:\n${output.join('').slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  /** Asks the server process (bench/next-probe.cjs) over IPC and waits for its answer. */
  const ask = <T extends ServerMessage['type']>(type: T) =>
    Promise.race([
      exited,
      new Promise<Extract<ServerMessage, { type: T }>>((resolve) => {
        const onMessage = (m: ServerMessage) => {
          if (m.type !== type) return;
          child.off('message', onMessage);
          resolve(m as Extract<ServerMessage, { type: T }>);
        };
        child.on('message', onMessage);
        child.send({ type });
      }),
    ]);
  return {
    port,
    pid: child.pid!,
    memory() {
      return ask('memory');
    },
    cpu() {
      return ask('cpu');
    },
    stop: () => stopChild(child),
  };
}

/** Stops a child process: SIGTERM, then SIGKILL after 5 s. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/**
 * For markers sent at the times `sentAt` (by marker number), each client's delay from sending to
 * seeing it (`seen`, by marker number), and how many a client never saw.
 */
export function delaysSeen(clients: Iterable<{ seen: ReadonlyMap<number, number> }>, sentAt: ReadonlyMap<number, number>): { delays: number[]; missing: number } {
  const delays: number[] = [];
  let missing = 0;
  for (const client of clients) {
    for (const [n, at] of sentAt) {
      const seen = client.seen.get(n);
      if (seen === undefined) missing++;
      else delays.push(seen - at);
    }
  }
  return { delays, missing };
}

/** The q-quantile (0..1) of unsorted samples, by nearest rank. */
export function quantile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
}
