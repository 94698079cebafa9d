/**
 * How every benchmark script reports: a list of figures, each beside the baseline measured in the
 * same run and the ratio between them. A script prints its own table; under `npm run bench`
 * (bench/run.ts sets LOCKSTEP_BENCH_PARTS) it also leaves its figures in that folder, and run.ts
 * joins them into one table and bench/results/latest.json.
 */
import fs from 'node:fs';
import path from 'node:path';

/** The scenarios of `npm run bench` (bench/README.md); 0 holds figures outside the eight. */
export const SCENARIOS: Record<number, string> = {
  0: 'components (sync rules, bucket storage)',
  1: 'snapshot into bucket storage',
  2: 'streaming replication',
  3: 'first sync into a fresh client',
  4: 'commit → client latency',
  5: 'memory of idle connections',
  6: 'local write → live query',
  7: 'upload of queued transactions',
  8: 'compaction',
};

export interface Figure {
  /** The scenario (SCENARIOS) the figure belongs to. */
  scenario: number;
  /** What was measured, with its size ("100k rows", "1,000 clients"). */
  case: string;
  /** Our figure, with its unit. */
  ours: string;
  /** The same-run baseline and what it is, or '-' where a scenario has none (latency, memory). */
  baseline: string;
  /** ours / baseline in the direction that reads naturally ("0.62× of COPY"), or '-'. */
  ratio: string;
  /** The target, or '-'. */
  target: string;
  /** Whether the target is met; null where there is no target. */
  met: boolean | null;
}

/** Prints the script's figures and, under bench/run.ts, leaves them for the joined table. */
export function publishFigures(script: string, figures: readonly Figure[]): void {
  console.table(figures.map((f) => ({ scenario: f.scenario, case: f.case, ours: f.ours, baseline: f.baseline, ratio: f.ratio, target: f.target, met: f.met === null ? '' : f.met ? 'yes' : 'NO' })));
  const dir = process.env.LOCKSTEP_BENCH_PARTS;
  if (!dir) return;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${script}.json`), `${JSON.stringify(figures, null, 2)}\n`);
}

/** Reads what publishFigures left in `dir`, by script name. */
export function readFigures(dir: string): Map<string, Figure[]> {
  const parts = new Map<string, Figure[]>();
  if (!fs.existsSync(dir)) return parts;
  for (const file of fs.readdirSync(dir).sort()) {
    if (!file.endsWith('.json')) continue;
    parts.set(file.slice(0, -'.json'.length), JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as Figure[]);
  }
  return parts;
}

/** `a / b` as "0.62×", for ratios of rates or of times. */
export function ratio(a: number, b: number): string {
  return b > 0 ? `${(a / b).toFixed(2)}×` : '-';
}

/** The nearest-rank p-th percentile (0–100) of `values`, which need not be sorted; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** The middle value (the upper one of an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}
