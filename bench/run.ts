/**
 * `npm run bench [-- --quick]`: every benchmark script in bench/, one after another, each in a
 * process of its own that starts what it needs (its own Postgres unless DATABASE_URL is set, the
 * replicator, the sync endpoint or the app's production build). Each script leaves its figures in
 * bench/results/parts/; this joins them into one table, by scenario, and writes
 * bench/results/latest.json. See bench/README.md.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readFigures, SCENARIOS, type Figure } from './report';

const quick = process.argv.includes('--quick');
/** Scripts in the order they run, with the scenarios each reports (bench/README.md). */
const SCRIPTS: Array<{ file: string; scenarios: number[]; args?: string[] }> = [
  { file: 'bench/row-evaluator.ts', scenarios: [0] },
  { file: 'bench/replicator.ts', scenarios: [1, 2, 4] },
  { file: 'bench/storage.ts', scenarios: [8] },
  { file: 'bench/stream.ts', scenarios: [4, 5] },
  { file: 'bench/client.ts', scenarios: [3, 6] },
  // --build: the app's production build is made again, so the run measures this checkout.
  { file: 'bench/upload.ts', scenarios: [7], args: ['--build'] },
];

const partsDir = path.resolve('bench/results/parts');
fs.rmSync(partsDir, { recursive: true, force: true });
const runs: Array<{ script: string; seconds: number; exit: number | string }> = [];
const started = performance.now();
for (const { file, args = [] } of SCRIPTS) {
  if (!fs.existsSync(file)) {
    runs.push({ script: file, seconds: 0, exit: 'missing' });
    continue;
  }
  console.log(`\n== ${file}${quick ? ' --quick' : ''}`);
  const at = performance.now();
  const result = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', file, ...args, ...(quick ? ['--quick'] : [])], {
    stdio: 'inherit',
    env: { ...process.env, LOCKSTEP_BENCH_PARTS: partsDir, NEXT_TELEMETRY_DISABLED: '1' },
  });
  const exit = result.status ?? result.signal ?? 'unknown';
  runs.push({ script: file, seconds: Math.round((performance.now() - at) / 100) / 10, exit });
  if (exit !== 0) console.error(`${file} exited with ${exit}`);
}

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
  `${JSON.stringify({ at: new Date().toISOString(), quick, seconds: Math.round((performance.now() - started) / 1000), machine, runs, figures }, null, 2)}\n`,
);
console.log(`wrote bench/results/latest.json (${Math.round((performance.now() - started) / 1000)} s)`);
process.exitCode = runs.some((r) => r.exit !== 0) ? 1 : 0;
