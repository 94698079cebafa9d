/**
 * Upload benchmark (docs/writes.md#performance): `npx tsx bench/upload.ts [--quick] [--runs 3]
 * [--transactions 1000] [--build]` (--quick: one run of 250 transactions).
 *
 * The demo app in production mode (scripts/start.ts) from the build bench/app-build.ts makes or
 * reuses (.data/next-bench; the one bench/run.ts made for the run; --build makes a new one), on
 * DATABASE_URL's server (database lockstep_bench_upload, reset first) or a local Postgres of its
 * own (.data/pg-bench-upload, fsync on). Chromium signs in as Alice and opens the app; the context goes offline; the page
 * queues N local transactions (each the insert of one todo into Alice's list, through
 * `window.__lockstep.execute`); the context goes online, and the clock runs until the page has
 * no pending upload (every transaction uploaded AND confirmed by an applied checkpoint) and the
 * N rows are in Postgres. The time until the rows are in Postgres (uploaded) is shown too.
 *
 * Baseline, in the same run: the same N inserts written straight to Postgres from Node with pg,
 * as N separate transactions (one connection, one INSERT each).
 *
 * Everything it starts (Postgres, the app's supervisor and its processes, Chromium) is stopped
 * at the end, also on failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from '@playwright/test';
import pg from 'pg';
import { withDatabase } from '@/lib/db/postgres/admin';
import { freePort, startLocalCluster, type LocalCluster } from '@/lib/db/postgres/local-cluster';
import { TESTING_GLOBAL, type TestingHandle } from '@/lib/sync/testing/contract';
import { appBuildForScript } from './app-build';
import { median, publishFigures } from './report';

const argv = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const QUICK = argv.includes('--quick');
const RUNS = flag('runs', QUICK ? 1 : 3);
/**
 * --quick queues 250: the page queues them one `execute` at a time, ~65 ms each on this machine
 * under load, so 1,000 took over a minute before the measured part began.
 */
const TRANSACTIONS = flag('transactions', QUICK ? 250 : 1000);
const BUILD = argv.includes('--build');
/** Prints the page's and the server's progress every 250 ms while a run waits. */
const TRACE = argv.includes('--trace');
const TARGET_MS = 5_000;
const PG_DIR = '.data/pg-bench-upload';
const root = process.cwd();

let cluster: LocalCluster | undefined;
let app: ChildProcess | undefined;
let browser: Browser | undefined;
let pool: pg.Pool | undefined;
let storagePool: pg.Pool | undefined;

const log = (line: string) => console.log(`[bench:upload] ${line}`);

async function main(): Promise<void> {
  const began = performance.now();
  const { distDir } = appBuildForScript(BUILD);
  let databaseUrl: string;
  if (process.env.DATABASE_URL) databaseUrl = withDatabase(process.env.DATABASE_URL, 'lockstep_bench_upload');
  else {
    cluster = await startLocalCluster({ dataDir: PG_DIR, port: await freePort(), log: () => {} });
    databaseUrl = cluster.url('lockstep_bench_upload');
  }
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  app = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      LOCKSTEP_DATABASE_NAME: 'lockstep_bench_upload',
      LOCKSTEP_RESET_DATABASE: '1',
      LOCKSTEP_DIST_DIR: distDir,
      NEXT_TELEMETRY_DISABLED: '1',
      NEXTAUTH_URL: baseUrl,
      NEXTAUTH_SECRET: randomBytes(32).toString('base64url'),
      SYNC_JWT_SECRET: randomBytes(32).toString('base64url'),
    },
  });
  const appLog: string[] = [];
  for (const stream of [app.stdout!, app.stderr!]) stream.on('data', (chunk: Buffer) => appLog.push(chunk.toString()));
  app.on('exit', (code, signal) => {
    if (app) log(`the app exited early (${signal ?? code}):\n${appLog.join('').slice(-4000)}`);
  });
  await waitForHttp(baseUrl, 180_000);
  log(`the app answers after ${ms(performance.now() - began)} (databases prepared, replicator and next start up)`);
  pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  storagePool = new pg.Pool({ connectionString: withDatabase(databaseUrl, 'lockstep_bench_upload_sync'), max: 1 });
  const alice = (await pool.query<{ id: string }>("SELECT id FROM users WHERE email = 'alice@example.com'")).rows[0]!.id;
  const listId = (await pool.query<{ id: string }>("INSERT INTO lists (name, owner_id) VALUES ('Upload bench', $1) RETURNING id", [alice])).rows[0]!.id;

  browser = await chromium.launch({
    executablePath: existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : undefined,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
  });
  const context = await browser.newContext({ baseURL: baseUrl });
  const page = await context.newPage();
  await page.goto('/signin');
  await page.getByLabel('Email').fill('alice@example.com');
  await page.getByLabel('Password').fill('alice-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname !== '/signin');
  await page.waitForFunction((name) => {
    const h = (window as unknown as Record<string, TestingHandle | undefined>)[name];
    return !!h && h.checkpoint() !== null && h.pendingUploads() === 0;
  }, TESTING_GLOBAL, { timeout: 60_000, polling: 20 });
  await untilLocal(page, listId, 0, 60_000); // the bench's list has reached the page
  log(`Chromium signed in and synced after ${ms(performance.now() - began)}`);

  const ours: Array<{ uploadedMs: number; confirmedMs: number }> = [];
  const baselines: number[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const tag = randomUUID().slice(0, 8);
    // Offline: queue the transactions locally.
    await context.setOffline(true);
    await page.evaluate(
      async ({ name, n, list, tag }) => {
        const h = (window as unknown as Record<string, TestingHandle>)[name]!;
        const at = new Date().toISOString();
        for (let i = 0; i < n; i++) {
          await h.execute('INSERT INTO todos (id, list_id, description, completed, created_at) VALUES (?, ?, ?, 0, ?)', [crypto.randomUUID(), list, `bench ${tag} ${i}`, at]);
        }
      },
      { name: TESTING_GLOBAL, n: TRANSACTIONS, list: listId, tag },
    );
    await page.waitForFunction((name) => ((window as unknown as Record<string, TestingHandle | undefined>)[name]?.pendingUploads() ?? 0) > 0, TESTING_GLOBAL, { timeout: 30_000, polling: 20 });
    log(`run ${run}: ${TRANSACTIONS} transactions queued offline (${ms(performance.now() - began)} since the start)`);
    // Online: time until Postgres has the rows, and until the page confirmed them all.
    const start = performance.now();
    await context.setOffline(false);
    let uploadedMs = NaN;
    let confirmedMs = NaN;
    let traced = 0;
    while (Number.isNaN(uploadedMs) || Number.isNaN(confirmedMs)) {
      if (performance.now() - start > 120_000) throw new Error(`run ${run}: not done after 120 s (pending ${await pending(page)}, rows ${await countRows(tag)})`);
      const [rows, left] = await Promise.all([Number.isNaN(uploadedMs) ? countRows(tag) : TRANSACTIONS, pending(page)]);
      const now = performance.now() - start;
      if (Number.isNaN(uploadedMs) && rows === TRANSACTIONS) uploadedMs = now;
      if (Number.isNaN(confirmedMs) && left === 0 && rows === TRANSACTIONS) confirmedMs = now;
      if (TRACE && now - traced >= 250) {
        traced = now;
        const seen = await page.evaluate((name) => { const h = (window as unknown as Record<string, TestingHandle>)[name]!; return `checkpoint ${h.checkpoint()} write checkpoint ${h.writeCheckpoint()}; ${document.querySelector('[aria-label="Sync status"]')?.textContent ?? ''}`; }, TESTING_GLOBAL);
        const sync = await storagePool!.query<{ cp: string; wc: string }>(
          "SELECT (SELECT max(op_id)::text || ' @' || max(lsn)::text FROM lockstep.checkpoints) AS cp, (SELECT max(id)::text || ' @' || max(lsn)::text FROM lockstep.write_checkpoints) AS wc",
        );
        log(`  ${ms(now)}: rows ${rows}, pending ${left}, page ${seen}; storage checkpoint ${sync.rows[0]!.cp}, write checkpoint ${sync.rows[0]!.wc}`);
      }
      await sleep(10);
    }
    ours.push({ uploadedMs, confirmedMs });

    // Baseline: the same inserts straight into Postgres, one transaction each.
    const client = await pool.connect();
    const at = new Date().toISOString();
    const t0 = performance.now();
    for (let i = 0; i < TRANSACTIONS; i++) {
      await client.query('INSERT INTO todos (id, list_id, description, completed, created_at, created_by) VALUES ($1, $2, $3, false, $4, $5)', [randomUUID(), listId, `baseline ${tag} ${i}`, at, alice]);
    }
    baselines.push(performance.now() - t0);
    client.release();
    log(`run ${run}: ${TRANSACTIONS} queued transactions: in Postgres after ${ms(uploadedMs)}, confirmed by a checkpoint after ${ms(confirmedMs)}; baseline ${ms(baselines.at(-1)!)}; ratio ${(confirmedMs / baselines.at(-1)!).toFixed(2)}×`);

    // Clean up, and let the page see the list empty again before the next run.
    await pool.query('DELETE FROM todos WHERE list_id = $1', [listId]);
    await untilLocal(page, listId, 0, 60_000);
    log(`run ${run}: cleaned up (${ms(performance.now() - began)} since the start)`);
  }

  const range = (xs: number[]) => (xs.length === 1 ? ms(xs[0]!) : `${ms(Math.min(...xs))}–${ms(Math.max(...xs))}`);
  const confirmed = ours.map((o) => o.confirmedMs);
  const ratios = confirmed.map((c, i) => c / baselines[i]!);
  console.log('');
  console.log(`upload of ${TRANSACTIONS} queued transactions after reconnecting, ${RUNS} run(s):`);
  console.log(`  in Postgres:                 ${range(ours.map((o) => o.uploadedMs))}`);
  console.log(`  confirmed by a checkpoint:   ${range(confirmed)}   (target <= ${ms(TARGET_MS)})`);
  console.log(`  baseline, ${TRANSACTIONS} pg transactions: ${range(baselines)}`);
  const uploadRatios = ours.map((o, i) => o.uploadedMs / baselines[i]!);
  console.log(`  ratio in Postgres / baseline: ${Math.min(...uploadRatios).toFixed(2)}–${Math.max(...uploadRatios).toFixed(2)}×`);
  console.log(`  ratio confirmed / baseline:  ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}×`);
  if (Math.max(...confirmed) > TARGET_MS) console.log(`  over the target in ${confirmed.filter((c) => c > TARGET_MS).length} run(s)`);
  publishFigures('upload', [
    {
      scenario: 7,
      case: `${TRANSACTIONS} queued transactions${TRANSACTIONS === 1000 ? '' : ' (the target is for 1,000)'}, reconnect → confirmed by a checkpoint (${RUNS} run${RUNS === 1 ? '' : 's'}, median)`,
      ours: `${ms(median(confirmed))} (in Postgres after ${ms(median(ours.map((o) => o.uploadedMs)))}); range ${range(confirmed)}`,
      baseline: `${TRANSACTIONS} pg transactions from Node: ${ms(median(baselines))}`,
      ratio: `${(median(confirmed) / median(baselines)).toFixed(2)}× the time`,
      target: `<= ${ms(TARGET_MS)}`,
      met: TRANSACTIONS === 1000 ? median(confirmed) <= TARGET_MS : null,
    },
  ]);
}

/** Waits until the page's local database holds `n` todos of the list. */
async function untilLocal(page: Page, listId: string, n: number, timeout: number): Promise<void> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const rows = await page.evaluate(({ name, list }) => (window as unknown as Record<string, TestingHandle>)[name]!.query('SELECT count(*) AS n FROM todos WHERE list_id = ?', [list]), { name: TESTING_GLOBAL, list: listId });
    const lists = await page.evaluate(({ name, list }) => (window as unknown as Record<string, TestingHandle>)[name]!.query('SELECT count(*) AS n FROM lists WHERE id = ?', [list]), { name: TESTING_GLOBAL, list: listId });
    if (Number(lists[0]?.n) === 1 && Number(rows[0]?.n) === n && (await pending(page)) === 0) return;
    if (Date.now() > deadline) throw new Error(`the page did not reach ${n} todos in the bench list (has ${String(rows[0]?.n)})`);
    await sleep(50);
  }
}

function pending(page: Page): Promise<number> {
  return page.evaluate((name) => (window as unknown as Record<string, TestingHandle>)[name]!.pendingUploads(), TESTING_GLOBAL);
}

async function countRows(tag: string): Promise<number> {
  const { rows } = await pool!.query<{ n: number }>("SELECT count(*)::int AS n FROM todos WHERE description LIKE 'bench ' || $1 || ' %'", [tag]);
  return rows[0]!.n;
}

async function waitForHttp(url: string, timeout: number): Promise<void> {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      const response = await fetch(url, { redirect: 'manual' });
      if (response.status < 500) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the app did not answer at ${url} within ${timeout / 1000} s`);
    if (app?.exitCode !== null) throw new Error('the app exited before answering');
    await sleep(250);
  }
}

/** Stops what this run started: Chromium, the app's supervisor (it stops its children), Postgres. */
async function stopAll(): Promise<void> {
  await browser?.close().catch(() => undefined);
  await pool?.end().catch(() => undefined);
  await storagePool?.end().catch(() => undefined);
  const child = app;
  app = undefined;
  if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    process.kill(child.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      // The supervisor leads its own group (detached): take the whole group down.
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 30_000);
    await exited;
    clearTimeout(timer);
  }
  await cluster?.stop().catch(() => undefined);
}

const ms = (x: number) => `${Math.round(x)} ms`;
const sleep = (n: number) => new Promise((r) => setTimeout(r, n));

let failed = false;
try {
  await main();
} catch (error: unknown) {
  failed = true;
  console.error(error);
} finally {
  await stopAll();
}
process.exit(failed ? 1 : 0);
