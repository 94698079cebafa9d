/**
 * Sync stream benchmark: `npx tsx bench/stream.ts [--quick] [--server plain|next] [--build] [--only=throughput]`
 * (BENCH_CLIENTS, a list of client counts to step through, default 1,100,1000,5000; BENCH_ROWS,
 * BENCH_COMMITS, BENCH_LARGE_BUCKET to resize; BENCH_DURABILITY=test turns fsync off;
 * BENCH_PG_DIR, the local cluster's data dir when DATABASE_URL is unset, default
 * .data/pg-bench-stream: runs at the same time need one each). --only=throughput runs part 1 alone
 * (no large bucket seeded, no latency clients); --only=fanout runs part 3 alone (no large bucket
 * seeded; the BENCH_ROWS bucket is still seeded, so make it small). Part 3's clients are
 * bench/fanout-client.ts; BENCH_FANOUT_CLIENT=regex uses part 2's MarkerClient instead.
 *
 * Runs the whole path: Postgres (DATABASE_URL's server, or a local cluster started for the run),
 * the replicator (workers/replicator.ts) and the sync endpoint each in a process of its own, and
 * raw HTTP clients in this one. The sync endpoint is, by default (`--server next`), the app itself in
 * production mode (`next start` of the build bench/app-build.ts makes or reuses; the one
 * bench/run.ts made for the run; --build makes a new one), or with `--server plain` the route's
 * SyncServer served by node:http (bench/stream-server.ts; what the route handler runs, without
 * Next around it). Measures
 *  1. initial sync of a bucket of BENCH_ROWS rows, read and parsed by one client, in ops/s, with
 *     same-run baselines: the same ops read by one plain SELECT over node-postgres, and by one
 *     binary COPY whose bytes are only counted (what reading them out of Postgres costs at least);
 *     BENCH_THROUGHPUT_RUNS runs of each, default 3;
 *  2. commit to line received by a client holding a bucket of BENCH_LARGE_BUCKET rows (1M; with
 *     --quick the BENCH_ROWS bucket of part 1), beside the same into a 10-row bucket, commits to
 *     the two interleaved;
 *  3. at each step of BENCH_CLIENTS connected clients: memory of the server process per idle
 *     stream (from 100 clients up), and commit to line received, for a row every client receives
 *     (fan-out) and for a row of one user only. Through `next start`, beside the step of 1,000
 *     clients: the same memory and hand-out to every client measured on a bare Next route handler
 *     that streams with no sync code (bench/next-floor.ts; --no-floor skips it).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { withDatabase } from '@/lib/db/postgres/admin';
import { copyOutBytes } from '@/lib/sync/storage/copy-out';
import { freePort, startLocalCluster, type LocalCluster } from '@/lib/db/postgres/local-cluster';
import { secretAuth, signSyncToken } from '@/lib/sync/server';
import { appBuildForScript } from './app-build';
import { publishFigures, type Figure } from './report';
import { FanoutClient } from './fanout-client';
import { floorLatency, measureNextFloor, type NextFloor } from './next-floor';
import { initialSync, MarkerClient, type InitialSync } from './stream-clients';
import { createDatabases, delaysSeen, quantile, seed, seedBucketSizes, startNextServer, startReplicator, startServer, stopChild, waitForCatchUp, type BucketSizes, type Seeded, type ServerChild } from './stream-fixtures';
import type { RoundCounts } from './stream-server';

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
/** Part 1 alone: initial sync throughput. */
const ONLY_THROUGHPUT = argv.includes('--only=throughput');
/** Part 3 alone: memory per idle stream and commit → line with many clients. */
const ONLY_FANOUT = argv.includes('--only=fanout');
/** The sync endpoint: the plain node:http SyncServer, or the app through `next start`. */
const SERVER = argv.includes('--server') ? argv[argv.indexOf('--server') + 1] : 'next';
if (SERVER !== 'plain' && SERVER !== 'next') throw new Error(`--server ${SERVER}: expected plain or next`);
/** Named in every figure, so that figures of the two endpoints are never mixed up. */
const ENDPOINT = SERVER === 'next' ? 'next start' : 'plain node:http server';
/** Connected clients, stepped up: latency is measured at each step, memory from 100 up. */
const STEPS = ONLY_THROUGHPUT ? [] : (process.env.BENCH_CLIENTS ?? (QUICK ? '1,100' : '1,100,1000,5000')).split(',').map(Number);
const CLIENTS = Math.max(1, ...STEPS);
const ROWS = Number(process.env.BENCH_ROWS ?? (QUICK ? 20_000 : 100_000));
const COMMITS = Number(process.env.BENCH_COMMITS ?? (QUICK ? 10 : 40));
/** Rows of the large bucket of part 2; with --quick the BENCH_ROWS bucket of part 1 is used instead. */
const LARGE = ONLY_THROUGHPUT || ONLY_FANOUT ? ROWS : Number(process.env.BENCH_LARGE_BUCKET ?? (QUICK ? ROWS : 1_000_000));
const report: Array<{ what: string; value: string }> = [];
/**
 * Through `next start`, part 3's baseline: a bare Next app streaming to as many clients
 * (bench/next-floor.ts), at the step of 1,000 clients (or the largest below it). --no-floor skips it.
 */
const FLOOR_CLIENTS = SERVER === 'next' && !argv.includes('--no-floor') ? (STEPS.filter((n) => n >= 100 && n <= 1_000).pop() ?? 0) : 0;
let floor: NextFloor | undefined;
/** The same figures for npm run bench (bench/report.ts). */
const figures: Figure[] = [];
const fmt = (n: number) => Math.round(n).toLocaleString('en');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** How long to wait for late lines after the last commit of a series. */
const SETTLE_MS = QUICK ? 1_000 : 2_000;

/** Runs of part 1 (each: the two baselines, a framed sync and a parsed sync, in turns); BENCH_THROUGHPUT_RUNS, default 3. */
const THROUGHPUT_RUNS = Math.max(3, Number(process.env.BENCH_THROUGHPUT_RUNS ?? 3));

async function throughput(port: number, storageUrl: string, rulesId: number, seeded: Seeded, token: (sub: string) => Promise<string>): Promise<void> {
  const bucket = `list${JSON.stringify([seeded.bigList])}`;
  const storage = new pg.Client({ connectionString: storageUrl });
  await storage.connect();
  const copyPool = new pg.Pool({ connectionString: storageUrl, max: 1 });
  type Sync = InitialSync & { clientCpuMs: number };
  const baseline: number[] = [];
  const copyBaseline: number[] = [];
  let copyBytes = 0;
  const framed: Sync[] = [];
  const parsed: Sync[] = [];
  let count = 0;
  const sync = async (parse: boolean, run: number): Promise<Sync> => {
    const auth = await token(seeded.bigUser);
    const cpu = process.cpuUsage();
    const result = await initialSync(port, auth, `big-${parse}-${run}`, parse);
    const used = process.cpuUsage(cpu);
    return { ...result, clientCpuMs: (used.user + used.system) / 1000 };
  };
  const opsQuery = `SELECT op_id, op, table_name, row_id, data, checksum FROM lockstep.ops WHERE rules_id = ${Number(rulesId)} AND bucket = ${pg.escapeLiteral(bucket)} ORDER BY op_id`;
  // Baselines and route in turns, so that all see the same load when the machine is shared.
  for (let run = 0; run < THROUGHPUT_RUNS; run++) {
    let started = performance.now();
    const { rows } = await storage.query('SELECT op_id, op, table_name, row_id, data, checksum FROM lockstep.ops WHERE rules_id = $1 AND bucket = $2 ORDER BY op_id', [rulesId, bucket]);
    baseline.push(performance.now() - started);
    count = rows.length;
    // The stronger baseline: the same ops out of Postgres by one binary COPY, bytes counted as they come off the socket, no work per row.
    started = performance.now();
    copyBytes = await copyOutBytes(copyPool, opsQuery, 'binary', () => {});
    copyBaseline.push(performance.now() - started);
    framed.push(await sync(false, run));
    parsed.push(await sync(true, run));
  }
  await storage.end();
  await copyPool.end();
  if ([...framed, ...parsed].some((r) => r.ops < count)) throw new Error(`the stream sent ${[...framed, ...parsed].map((r) => r.ops).join('/')} ops; the bucket alone holds ${count}`);
  const ranked = (runs: Sync[]) => {
    const sorted = [...runs].sort((a, b) => a.ms - b.ms);
    return { best: sorted[0]!, median: sorted[sorted.length >> 1]! };
  };
  const bestBaseline = Math.min(...baseline);
  const bestCopy = Math.min(...copyBaseline);
  const rate = (r: Sync) => `${fmt(r.ms)} ms = ${fmt(r.ops / (r.ms / 1000))} ops/s (client CPU ${fmt(r.clientCpuMs)} ms)`;
  const ratio = (runs: Sync[], against: number[]) => runs.map((r, i) => (against[i]! / r.ms).toFixed(2)).join(' / ');
  const f = ranked(framed);
  const p = ranked(parsed);
  const n = THROUGHPUT_RUNS;
  report.push(
    { what: `baseline: plain SELECT of the bucket's ${fmt(count)} ops (node-postgres, one query, best of ${n})`, value: `${fmt(bestBaseline)} ms = ${fmt(count / (bestBaseline / 1000))} ops/s` },
    { what: `baseline 2: the same ops by one binary COPY, bytes only, no work per row (best of ${n})`, value: `${fmt(bestCopy)} ms = ${fmt(count / (bestCopy / 1000))} ops/s (${(copyBytes / 1e6).toFixed(1)} MB)` },
    { what: `initial sync of a ${fmt(ROWS)}-row bucket out of the route, lines framed by a raw client (best / median of ${n})`, value: `${rate(f.best)} / ${rate(f.median)} (${(f.best.bytes / 1e6).toFixed(1)} MB)` },
    { what: '  its speed as a fraction of the SELECT baseline run just before it, run by run', value: ratio(framed, baseline) },
    { what: '  its speed as a fraction of the COPY baseline run just before it, run by run', value: ratio(framed, copyBaseline) },
    { what: `  the same, every line JSON.parse-d by the client as a real client does (best / median of ${n})`, value: `${rate(p.best)} / ${rate(p.median)}` },
  );
  const opsPerSecond = (r: Sync) => r.ops / (r.ms / 1000);
  figures.push({
    scenario: 3,
    case: `initial sync of a ${fmt(ROWS)}-row bucket out of the sync route, ${ENDPOINT} (framed, best of ${n})`,
    ours: `${fmt(opsPerSecond(f.best))} ops/s (median ${fmt(opsPerSecond(f.median))}); parsed by the client ${fmt(opsPerSecond(p.best))} ops/s`,
    baseline: `plain SELECT of the same ops: ${fmt(count / (bestBaseline / 1000))} ops/s; one binary COPY of them, bytes only: ${fmt(count / (bestCopy / 1000))} ops/s`,
    ratio: `${(opsPerSecond(f.best) / (count / (bestBaseline / 1000))).toFixed(2)}× the SELECT (run by run ${ratio(framed, baseline)}), ${(opsPerSecond(f.best) / (count / (bestCopy / 1000))).toFixed(2)}× the COPY (run by run ${ratio(framed, copyBaseline)})`,
    target: '>= 200k ops/s',
    met: opsPerSecond(f.best) >= 200_000,
  });
}

/**
 * Commit → line for a client holding a large bucket and one holding a 10-row bucket, each alone
 * in its stream, commits to the two interleaved (so both see the same load).
 */
async function bucketSizeLatency(port: number, appUrl: string, storageUrl: string, large: { id: string; list: string; rows: number }, small: { id: string; list: string }, token: (sub: string) => Promise<string>): Promise<void> {
  const pattern = () => /size-(\d+)-mark/g;
  const big = new MarkerClient(pattern());
  const little = new MarkerClient(pattern());
  try {
    let started = performance.now();
    await big.open(port, await token(large.id), 'bucket-large');
    const syncedMs = performance.now() - started;
    started = performance.now();
    await little.open(port, await token(small.id), 'bucket-small');
    const smallSyncedMs = performance.now() - started;
    await sleep(1_000);
    const app = new pg.Client({ connectionString: appUrl });
    await app.connect();
    const { listener, notices } = await listenCheckpoints(storageUrl);
    const committed = new Map<number, { client: MarkerClient; at: number }>();
    const n = COMMITS * 2;
    for (let i = 0; i < n; i++) {
      for (const [client, list] of [[big, large.list], [little, small.list]] as const) {
        const mark = committed.size;
        await app.query('INSERT INTO todos (list_id, description) VALUES ($1, $2)', [list, `size-${mark}-mark`]);
        committed.set(mark, { client, at: performance.now() });
        await sleep(50);
      }
    }
    await sleep(SETTLE_MS);
    await app.end();
    await listener.end();
    const samples = new Map<MarkerClient, number[]>([[big, []], [little, []]]);
    const notified: number[] = [];
    let missing = 0;
    for (const [mark, { client, at }] of committed) {
      const seen = client.seen.get(mark);
      if (seen === undefined) missing++;
      else samples.get(client)!.push(seen - at);
      const notice = notices.find((t) => t >= at);
      if (notice !== undefined) notified.push(notice - at);
    }
    const leaked = [...big.seen.keys()].filter((m) => committed.get(m)?.client !== big).length + [...little.seen.keys()].filter((m) => committed.get(m)?.client !== little).length;
    const [l, s] = [samples.get(big)!, samples.get(little)!];
    const q = (xs: number[], p: number) => quantile(xs, p).toFixed(1);
    const line = (xs: number[]) => `p50 ${q(xs, 0.5)} ms, p95 ${q(xs, 0.95)} ms, p99 ${q(xs, 0.99)} ms (${xs.length} samples)`;
    report.push(
      { what: `a client's first sync of the ${fmt(large.rows)}-row bucket (the marker client, for reference)`, value: `${fmt(syncedMs)} ms; the 10-row bucket ${fmt(smallSyncedMs)} ms` },
      { what: `commit to line, a row into a ${fmt(large.rows)}-row bucket (its client alone in its stream)`, value: line(l) },
      { what: '  the same into a 10-row bucket, commits interleaved with the above', value: line(s) },
      { what: '  for reference: commit to checkpoint NOTIFY from bucket storage (replicator)', value: `p50 ${q(notified, 0.5)} ms` },
      { what: '  lines missing / delivered to the wrong client', value: `${missing} / ${leaked}` },
    );
    const p50 = [quantile(l, 0.5), quantile(s, 0.5)] as const;
    figures.push({
      scenario: 4,
      case: `commit in Postgres → line at the client, a row into a ${fmt(large.rows)}-row bucket${QUICK ? ' (--quick; 1,000,000 in the full run)' : ''} (${ENDPOINT})`,
      ours: line(l),
      baseline: `the same into a 10-row bucket, interleaved: ${line(s)}`,
      ratio: `${(p50[0] / p50[1]).toFixed(2)}× the p50`,
      target: 'the same as a 10-row bucket (p50 within 25% or 2 ms); p50 <= 20 ms, p99 <= 100 ms',
      met: p50[0] <= Math.max(p50[1] * 1.25, p50[1] + 2) && p50[0] <= 20 && quantile(l, 0.99) <= 100 && missing === 0 && leaked === 0,
    });
  } finally {
    big.close();
    little.close();
  }
}

/** Connects clients until `target` are connected; `before` is the server's memory with none. */
/** Part 3's clients: FanoutClient (reads into one shared buffer, scans bytes), or with BENCH_FANOUT_CLIENT=regex the MarkerClient of part 2, to compare what the clients cost. */
type LatencyClient = Pick<FanoutClient, 'seen' | 'open' | 'close'>;
const latencyClient = (): LatencyClient => (process.env.BENCH_FANOUT_CLIENT === 'regex' ? new MarkerClient(/(?:fan|solo)-(\d+)-mark/g) : new FanoutClient(['fan-', 'solo-']));

async function connectUpTo(server: ServerChild, seeded: Seeded, token: (sub: string) => Promise<string>, clients: LatencyClient[], target: number, before: Awaited<ReturnType<ServerChild['memory']>>): Promise<void> {
  const started = performance.now();
  const from = clients.length;
  // Connect in waves, as clients arrive in practice; each wave completes its first checkpoint.
  for (let i = from; i < target; i += 100) {
    const wave = seeded.users.slice(i, Math.min(i + 100, target)).map(async (user, j) => {
      const client = latencyClient();
      clients[i + j] = client;
      await client.open(server.port, await token(user.id), `client-${i + j}`);
    });
    await Promise.all(wave);
  }
  const connectMs = performance.now() - started;
  report.push({ what: `${fmt(target - from)} more clients connected (${fmt(target)} in all), each through its first checkpoint`, value: `${fmt(connectMs)} ms` });
  // Memory per stream means something from 100 streams up only.
  if (target < 100) return;
  await sleep(2_000);
  const after = await server.memory();
  const heap = (after.heapUsed + after.external - before.heapUsed - before.external) / target;
  const rss = (after.rss - before.rss) / target;
  report.push(
    { what: `  the server (pid ${server.pid}) reports`, value: `${after.streams} streams` },
    { what: 'server process memory per idle stream: JS heap + external (after GC)', value: `${(heap / 1024).toFixed(1)} KB` },
    { what: 'server process memory per idle stream: RSS (includes sockets, allocator slack)', value: `${(rss / 1024).toFixed(1)} KB` },
  );
  figures.push({
    scenario: 5,
    case: `server process memory per idle stream, ${ENDPOINT}, ${fmt(target)} connected`,
    ours: `${(heap / 1024).toFixed(1)} KB heap + external, ${(rss / 1024).toFixed(1)} KB RSS; RSS ${(after.rss / 2 ** 20).toFixed(0)} MB in all`,
    baseline: floor?.clients === target ? `a bare Next route handler holding as many streams open (bench/next-floor): ${(floor.heapPerStream / 1024).toFixed(1)} KB heap + external, ${(floor.rssPerStream / 1024).toFixed(1)} KB RSS` : '-',
    ratio: floor?.clients === target ? `${(heap / floor.heapPerStream).toFixed(2)}×` : '-',
    target: '<= 50 KB per connection',
    met: heap <= 50 * 1024,
  });
}

/** A LISTEN on bucket storage's checkpoint channel: when each checkpoint was announced (the replicator's share of a latency). */
async function listenCheckpoints(storageUrl: string): Promise<{ listener: pg.Client; notices: number[] }> {
  const listener = new pg.Client({ connectionString: storageUrl });
  await listener.connect();
  const notices: number[] = [];
  listener.on('notification', () => notices.push(performance.now()));
  await listener.query('LISTEN lockstep_checkpoint');
  return { listener, notices };
}

/** What the hub's rounds did between two readings: mean times per round, and the streams handed lines or woken. */
function roundsBetween(before: RoundCounts, after: RoundCounts): string {
  const n = after.rounds - before.rounds;
  // NaN: a server without SyncHub.roundCounts (an older build).
  if (!(n > 0)) return 'no rounds counted';
  const sliced = (after.slicedRounds ?? 0) - (before.slicedRounds ?? 0);
  const first = sliced > 0 ? `, first slice's lines written ${(((after.firstSliceMs ?? 0) - (before.firstSliceMs ?? 0)) / sliced).toFixed(1)} ms after the reads` : '';
  const lookups = after.lookupsRead === undefined ? '' : `; streams whose lookups were read: ${fmt(after.lookupsRead - (before.lookupsRead ?? 0))}`;
  const catching = after.catchingUp === undefined ? '' : `; left to catch up by themselves: ${fmt(after.catchingUp - (before.catchingUp ?? 0))}`;
  return `${n} rounds: ${((after.readMs - before.readMs) / n).toFixed(1)} ms / ${((after.handMs - before.handMs) / n).toFixed(1)} ms (${fmt(after.sent - before.sent)} / ${fmt(after.woken - before.woken)})${first}${lookups}${catching}`;
}

/** Commit → line latency with the clients connected now; markers are numbered from `base` (unique across steps). */
async function latency(server: ServerChild, appUrl: string, storageUrl: string, clients: LatencyClient[], seeded: Seeded, base: number): Promise<void> {
  const app = new pg.Client({ connectionString: appUrl });
  await app.connect();
  // For reference: when bucket storage announces the checkpoint (the replicator's share of the latency).
  const { listener, notices } = await listenCheckpoints(storageUrl);
  const notified: number[] = [];
  const noticeAfter = (at: number) => {
    const first = notices.find((t) => t >= at);
    if (first !== undefined) notified.push(first - at);
  };
  const committedAt = new Map<number, number>();
  // Fan-out: an announcement every connected client receives. The 1,000 clients run in this
  // process, on the same 2 cores as the server: their CPU is measured over each commit's window.
  let clientCpu = 0;
  // The server's CPU time over the series too: unlike the latency, it hardly moves when other work shares the machine.
  const serverBefore = await server.cpu();
  for (let n = 0; n < COMMITS; n++) {
    await app.query("INSERT INTO announcements (title, body) VALUES ($1, 'bench')", [`fan-${base + n}-mark`]);
    committedAt.set(base + n, performance.now());
    const cpu = process.cpuUsage();
    await sleep(250);
    const used = process.cpuUsage(cpu);
    clientCpu += used.user + used.system;
  }
  await sleep(SETTLE_MS);
  const serverAfter = await server.cpu();
  const serverCpu = serverAfter.micros - serverBefore.micros;
  const rounds = serverAfter.rounds && serverBefore.rounds ? roundsBetween(serverBefore.rounds, serverAfter.rounds) : undefined;
  for (const at of committedAt.values()) noticeAfter(at);
  const { delays: fan, missing: fanMissing } = delaysSeen(clients, committedAt);
  let missing = fanMissing;
  // One user's row: a todo in that user's own list, received by that client only.
  const solo: number[] = [];
  const soloAt = new Map<number, { client: number; at: number }>();
  for (let n = 0; n < COMMITS * 2; n++) {
    const k = (n * 7919) % clients.length;
    await app.query('INSERT INTO todos (list_id, description) VALUES ($1, $2)', [seeded.users[k]!.list, `solo-${base + COMMITS + n}-mark`]);
    soloAt.set(base + COMMITS + n, { client: k, at: performance.now() });
    await sleep(100);
  }
  await sleep(SETTLE_MS);
  for (const { at } of soloAt.values()) noticeAfter(at);
  for (const [n, { client, at }] of soloAt) {
    const seen = clients[client]!.seen.get(n);
    if (seen === undefined) missing++;
    else solo.push(seen - at);
  }
  const leaked = clients.reduce((sum, c, i) => sum + [...c.seen.keys()].filter((n) => n >= base + COMMITS && n < base + 3 * COMMITS && soloAt.get(n)?.client !== i).length, 0);
  await app.end();
  await listener.end();
  const row = (what: string, samples: number[]) => ({ what, value: `p50 ${quantile(samples, 0.5).toFixed(1)} ms, p99 ${quantile(samples, 0.99).toFixed(1)} ms, max ${samples.reduce((m, x) => Math.max(m, x), 0).toFixed(1)} ms (${fmt(samples.length)} samples)` });
  report.push(
    row(`commit to line, a row all ${fmt(clients.length)} clients receive (${COMMITS} commits)`, fan),
    { what: '  the bench clients\' own CPU per fan-out commit (all clients, this process)', value: `${(clientCpu / 1000 / COMMITS).toFixed(1)} ms (${(clientCpu / COMMITS / clients.length).toFixed(1)} µs per client)` },
    { what: '  the server process\'s CPU per fan-out commit (the series and its settling time, over the commits)', value: `${(serverCpu / 1000 / COMMITS).toFixed(1)} ms (${(serverCpu / COMMITS / clients.length).toFixed(1)} µs per client)` },
    ...(serverAfter.gc && serverBefore.gc
      ? [{ what: '  of which garbage collection: scavenges / mark-compact, per fan-out commit', value: `${((serverAfter.gc.minorMs - serverBefore.gc.minorMs) / COMMITS).toFixed(1)} ms / ${((serverAfter.gc.majorMs - serverBefore.gc.majorMs) / COMMITS).toFixed(1)} ms` }]
      : []),
    ...(rounds ? [{ what: '  the server\'s rounds: notice → reads done / handing out, per round (streams handed their lines / woken)', value: rounds }] : []),
    row(`commit to line, a row of one user, ${fmt(clients.length)} clients connected (${COMMITS * 2} commits)`, solo),
    row('  for reference: commit to checkpoint NOTIFY from bucket storage (replicator)', notified),
    { what: 'lines missing / delivered to the wrong client', value: `${missing} / ${leaked}` },
  );
  const q = (samples: number[], p: number) => quantile(samples, p).toFixed(1);
  for (const [what, samples] of [[`a row all ${fmt(clients.length)} clients receive`, fan], [`a row of one user, ${fmt(clients.length)} clients connected`, solo]] as const) {
    figures.push({
      scenario: 4,
      case: `commit in Postgres → line at the client, ${what} (${ENDPOINT})`,
      ours: `p50 ${q(samples, 0.5)} ms, p95 ${q(samples, 0.95)} ms, p99 ${q(samples, 0.99)} ms`,
      baseline: `commit → checkpoint NOTIFY from bucket storage: p50 ${q(notified, 0.5)} ms${samples === fan && floor?.clients === clients.length ? `; a bare Next route handler (bench/next-floor), from a request to hand a line to all ${fmt(clients.length)} to the line at each: ${floorLatency(floor)}` : ''}`,
      ratio: '-',
      target: 'p50 <= 20 ms, p99 <= 100 ms',
      met: quantile(samples, 0.5) <= 20 && quantile(samples, 0.99) <= 100 && missing === 0 && leaked === 0,
    });
  }
}

async function main(): Promise<void> {
  // The app's production build first: a failed build stops the run before anything starts.
  const distDir = SERVER === 'next' ? appBuildForScript(argv.includes('--build')).distDir : undefined;
  if (FLOOR_CLIENTS > 0) {
    floor = await measureNextFloor(FLOOR_CLIENTS, COMMITS);
    report.push(
      { what: `baseline: a bare Next route handler (bench/next-floor), ${fmt(floor.clients)} streams open: memory per idle stream, heap + external / RSS`, value: `${(floor.heapPerStream / 1024).toFixed(1)} KB / ${(floor.rssPerStream / 1024).toFixed(1)} KB` },
      { what: `  a request to hand a line to all ${fmt(floor.clients)} → the line at each (${COMMITS} hand-outs)`, value: `${floorLatency(floor)}, max ${Math.max(...floor.fanout).toFixed(1)} ms (${fmt(floor.fanout.length)} samples, ${floor.missing} missing)` },
      { what: '  the server process\'s CPU per hand-out', value: `${(floor.serverCpuPerClient * floor.clients / 1000).toFixed(1)} ms (${floor.serverCpuPerClient.toFixed(1)} µs per client)` },
    );
  }
  let cluster: LocalCluster | undefined;
  let adminUrl: string;
  if (process.env.DATABASE_URL) adminUrl = withDatabase(process.env.DATABASE_URL, 'postgres');
  else {
    const durability = process.env.BENCH_DURABILITY === 'test' ? 'test' : 'safe';
    cluster = await startLocalCluster({ dataDir: path.resolve(process.env.BENCH_PG_DIR ?? '.data/pg-bench-stream'), port: await freePort(), durability, log: () => {} });
    adminUrl = cluster.url('postgres');
  }
  const dbs = await createDatabases(adminUrl);
  const secret = randomBytes(32).toString('base64url');
  const auth = secretAuth(secret);
  const token = async (sub: string) => (await signSyncToken(auth, { sub, ttlSeconds: 3_600 })).token;
  const env = { DATABASE_URL: dbs.appUrl, SYNC_DATABASE_URL: dbs.storageUrl, SYNC_JWT_SECRET: secret };
  let replicator: ReturnType<typeof startReplicator> | undefined;
  let server: ServerChild | undefined;
  const clients: LatencyClient[] = [];
  try {
    const settings = await new pg.Pool({ connectionString: dbs.appUrl, max: 1 }).query<{ v: string; f: string }>("SELECT current_setting('server_version') AS v, current_setting('fsync') AS f");
    console.log(`Postgres ${settings.rows[0]!.v}, fsync=${settings.rows[0]!.f}; ${ROWS.toLocaleString('en')} rows, large bucket ${LARGE.toLocaleString('en')}, ${CLIENTS} clients, Node ${process.version}; sync endpoint: ${SERVER === 'next' ? 'the app (next start, production build)' : 'plain node:http SyncServer (bench/stream-server.ts)'}\n`);
    const seeded = await seed(dbs.appUrl, ROWS, CLIENTS);
    const sizes: BucketSizes = await seedBucketSizes(dbs.appUrl, LARGE === ROWS ? undefined : LARGE);
    const large = sizes.large ? { ...sizes.large, rows: LARGE } : { id: seeded.bigUser, list: seeded.bigList, rows: ROWS };
    // The replicator starts on the seeded data: its snapshot takes it all.
    replicator = startReplicator(env);
    const seededAt = performance.now();
    const rulesId = await waitForCatchUp(dbs.appUrl, dbs.storageUrl);
    const snapshotRows = ROWS + CLIENTS * 2 + (sizes.large ? LARGE + 2 : 0) + 12;
    report.push({ what: `replicator start and snapshot of ${fmt(snapshotRows)} rows (for reference)`, value: `${fmt(performance.now() - seededAt)} ms` });
    server = distDir ? await startNextServer(env, distDir) : await startServer(env);
    // A first stream, so that the route's first use (module load, the LISTEN connection) is timed in neither part.
    const warm = new MarkerClient(/warm-(\d+)/g);
    await warm.open(server.port, await token(sizes.small.id), 'warm-up');
    warm.close();
    if (!ONLY_FANOUT) await throughput(server.port, dbs.storageUrl, rulesId, seeded, token);
    if (!ONLY_THROUGHPUT && !ONLY_FANOUT) await bucketSizeLatency(server.port, dbs.appUrl, dbs.storageUrl, large, sizes.small, token);
    const idle = await server.memory();
    let base = 0;
    for (const step of STEPS) {
      await connectUpTo(server, seeded, token, clients, step, idle);
      await latency(server, dbs.appUrl, dbs.storageUrl, clients, seeded, base);
      base += 3 * COMMITS;
    }
  } finally {
    for (const client of clients) client?.close();
    await server?.stop();
    if (replicator) await stopChild(replicator);
    await dbs.drop();
    await cluster?.stop();
  }
  const width = Math.max(...report.map((r) => r.what.length));
  console.log(`${'measurement'.padEnd(width)}  result`);
  console.log(`${'-'.repeat(width)}  ${'-'.repeat(50)}`);
  for (const r of report) console.log(`${r.what.padEnd(width)}  ${r.value}`);
  publishFigures('stream', figures);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
