/**
 * `npm run bench [-- --quick] [-- --build]`: every benchmark script in bench/, one after another,
 * each in a process of its own that starts what it needs (the replicator, the sync endpoint, the
 * app, Chromium). Before them this starts one Postgres for the whole run (a local cluster in
 * .data/pg-bench-run, fsync on, unless DATABASE_URL is set; each script makes and drops its own
 * databases in it) and makes the app's production build once (bench/app-build.ts: reused when
 * its inputs hash matches, `--build` makes a new one), which bench/stream.ts and bench/upload.ts
 * then start. Each script leaves its figures in bench/results/parts/; this joins them into one
 * table, by scenario, and writes bench/results/latest.json. See bench/README.md.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { withDatabase } from '@/lib/db/postgres/admin';
import { freePort, startLocalCluster, type LocalCluster } from '@/lib/db/postgres/local-cluster';
import { DIST_DIR_ENV, ensureAppBuild, type AppBuild } from './app-build';
import { readFigures, SCENARIOS, type Figure } from './report';

const quick = process.argv.includes('--quick');
const forceBuild = process.argv.includes('--build');
/** Scripts in the order they run, with the scenarios each reports (bench/README.md). */
const SCRIPTS: Array<{ file: string; scenarios: number[]; args?: string[] }> = [
  { file: 'bench/row-evaluator.ts', scenarios: [0] },
  { file: 'bench/replicator.ts', scenarios: [1, 2, 4] },
  { file: 'bench/storage.ts', scenarios: [8] },
  // The stream scenarios against the app itself, `next start` of the run's build.
  { file: 'bench/stream.ts', scenarios: [3, 4, 5], args: ['--server', 'next'] },
  { file: 'bench/client.ts', scenarios: [3, 6] },
  { file: 'bench/upload.ts', scenarios: [7] },
];

const partsDir = path.resolve('bench/results/parts');
fs.rmSync(partsDir, { recursive: true, force: true });
const runs: Array<{ script: string; seconds: number; exit: number | string }> = [];
const started = performance.now();
const seconds = (since: number) => Math.round((performance.now() - since) / 100) / 10;

// One Postgres for every script (DATABASE_URL's server, or a local cluster started for the run).
let cluster: LocalCluster | undefined;
let databaseUrl = process.env.DATABASE_URL;
let at = performance.now();
if (!databaseUrl) {
  console.log('== Postgres for the run (.data/pg-bench-run, fsync on)');
  cluster = await startLocalCluster({ dataDir: path.resolve('.data/pg-bench-run'), port: await freePort(), durability: 'safe', log: () => {} });
  databaseUrl = cluster.url('postgres');
  runs.push({ script: 'Postgres start (local cluster)', seconds: seconds(at), exit: 0 });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    void (cluster?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

// The app's production build, once for the run (bench/stream.ts and bench/upload.ts start it).
console.log('\n== the app\'s production build (bench/app-build.ts)');
at = performance.now();
let build: AppBuild | undefined;
try {
  build = ensureAppBuild({ force: forceBuild });
  runs.push({ script: build.reused ? `next build: reused (built ${build.builtAt.toISOString()}, inputs ${build.inputs.slice(0, 12)} match)` : `next build (inputs ${build.inputs.slice(0, 12)})`, seconds: seconds(at), exit: 0 });
} catch (error: unknown) {
  console.error(error);
  runs.push({ script: 'next build', seconds: seconds(at), exit: 'failed' });
}

for (const { file, args = [] } of SCRIPTS) {
  if (!fs.existsSync(file)) {
    runs.push({ script: file, seconds: 0, exit: 'missing' });
    continue;
  }
  console.log(`\n== ${file}${quick ? ' --quick' : ''}`);
  at = performance.now();
  const result = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', file, ...args, ...(quick ? ['--quick'] : [])], {
    stdio: 'inherit',
    env: { ...process.env, DATABASE_URL: withDatabase(databaseUrl, 'postgres'), ...(build ? { [DIST_DIR_ENV]: build.distDir } : {}), LOCKSTEP_BENCH_PARTS: partsDir, NEXT_TELEMETRY_DISABLED: '1' },
  });
  const exit = result.status ?? result.signal ?? 'unknown';
  runs.push({ script: file, seconds: seconds(at), exit });
  if (exit !== 0) console.error(`${file} exited with ${exit}`);
}
await cluster?.stop();

const parts = readFigures(partsDir);
const figures: Array<Figure & { script: string }> = [];
for (const { file } of SCRIPTS) {
  const name = path.basename(file, '.ts');
  for (const figure of parts.get(name) ?? []) figures.push({ ...figure, script: name });
}
figures.sort((a, b) => a.scenario - b.scenario);
const missing = SCRIPTS.flatMap(({ file, scenarios }) => (parts.has(path.basename(file, '.ts')) ? [] : scenarios.map((s) => `${s} (${file})`)));

console.log(`\n== all figures${quick ? ' (--quick: smaller sizes, not comparable with the targets)' : ''}`);
console.table(
  figures.map((f) => ({
    scenario: `${f.scenario} ${SCENARIOS[f.scenario] ?? ''}`,
    case: f.case,
    ours: f.ours,
    baseline: f.baseline,
    ratio: f.ratio,
    target: f.target,
    met: f.met === null ? '' : f.met ? 'yes' : 'NO',
  })),
);
console.table(runs);
if (missing.length > 0) console.error(`no figures from: ${missing.join(', ')}`);

const cpus = os.cpus();
const machine = { cpus: cpus.length, model: cpus[0]?.model ?? 'unknown', memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` };
fs.mkdirSync('bench/results', { recursive: true });
fs.writeFileSync(
  'bench/results/latest.json',
  `${JSON.stringify({ at: new Date().toISOString(), quick, seconds: Math.round((performance.now() - started) / 1000), machine, loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100), build: build && { distDir: build.distDir, reused: build.reused, builtAt: build.builtAt.toISOString(), inputs: build.inputs, seconds: build.seconds }, runs, figures }, null, 2)}\n`,
);
const total = Math.round((performance.now() - started) / 1000);
const load = os.loadavg().map((l) => l.toFixed(1)).join(' / ');
console.log(`wrote bench/results/latest.json: ${total} s in all${build ? `, the build ${build.reused ? 'reused' : `made in ${build.seconds} s`}` : ''}; load average now ${load} (1 / 5 / 15 min)${quick ? `; --quick is meant to take under 180 s: ${total <= 180 ? 'it did' : 'it did NOT'}` : ''}`);
process.exitCode = runs.some((r) => r.exit !== 0) ? 1 : 0;
