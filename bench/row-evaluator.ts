/**
 * Row evaluator throughput on the demo rules (sync.config.ts), beside a trivial baseline measured
 * in the same run: JSON.stringify of the same source rows. One core, no I/O.
 *   npx tsx bench/row-evaluator.ts [--rows 200000] [--rounds 7] [--quick]
 * Target (issue 3): >= 1M rows/s per core.
 *
 * Rounds of the evaluator and of its baseline alternate, so a busy neighbour on a shared machine
 * slows both alike. Each rate is given per wall-clock second and per CPU second of this process
 * (process.cpuUsage: time on a core, which a neighbour does not inflate; GC threads count too).
 *
 * "delivered" adds what the replicator does next with every data string: the COPY writer copies
 * it into a Buffer page (lib/sync/storage/copy-binary.ts). A string built by concatenation is a
 * rope that V8 flattens at that point, so a serializer that only looks fast by leaving work to
 * its consumer shows up there; the baseline's flat JSON.stringify output is written the same way.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { compileSyncRules, type SourceRow } from '@/lib/sync/config';
import rulesConfig from '@/sync.config';
import { median, publishFigures, ratio, type Figure } from './report';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const QUICK = process.argv.includes('--quick');
const ROWS = arg('rows', QUICK ? 50_000 : 200_000);
const ROUNDS = arg('rounds', QUICK ? 5 : 7);

function timestamp(i: number): string {
  const d = new Date(Date.UTC(2026, 0, 1) + i * 61_237);
  const ms = i % 3 === 0 ? '' : `.${String(i % 1000).padStart(3, '0')}${i % 2 ? '' : '456'}`;
  return `${d.toISOString().slice(0, 19).replace('T', ' ')}${ms}+00`;
}

/**
 * The demo's write mix: mostly todos, some lists, memberships and users. Round-tripped through
 * JSON so every string is flat, as the pg driver's are.
 */
function makeRows(count: number): Array<{ table: string; row: SourceRow }> {
  return JSON.parse(JSON.stringify(generateRows(count))) as Array<{ table: string; row: SourceRow }>;
}

function generateRows(count: number): Array<{ table: string; row: SourceRow }> {
  const users = Array.from({ length: 500 }, () => randomUUID());
  const lists = Array.from({ length: 2_000 }, () => randomUUID());
  const pick = <T>(xs: T[], i: number) => xs[(i * 7919) % xs.length]!;
  return Array.from({ length: count }, (_, i) => {
    const kind = i % 20;
    if (kind < 16) {
      return {
        table: 'todos',
        row: {
          id: randomUUID(),
          list_id: pick(lists, i),
          description: `Todo number ${i}: buy ${i % 3 === 0 ? 'milk "fresh"' : 'bread'} and eggs`,
          notes: i % 4 === 0 ? `Some notes for todo ${i}, with a line break\nand ünïcødé` : null,
          completed: i % 2 ? 't' : 'f',
          completed_at: i % 2 ? timestamp(i) : null,
          created_by: pick(users, i),
          created_at: timestamp(i + 1),
        },
      };
    }
    if (kind < 18) return { table: 'lists', row: { id: pick(lists, i), name: `List ${i}`, owner_id: pick(users, i), created_at: timestamp(i) } };
    if (kind < 19) return { table: 'list_members', row: { list_id: pick(lists, i), user_id: pick(users, i + 1), role: 'editor' } };
    return { table: 'users', row: { id: pick(users, i), email: `user${i}@example.com`, name: `User ${i}`, password_hash: '$scrypt$abc', created_at: timestamp(i) } };
  });
}

type Work = (table: string, row: SourceRow) => number;
interface Rates {
  wall: number[];
  cpu: number[];
}

const rules = compileSyncRules(rulesConfig);
const rows = makeRows(ROWS);

/** A COPY page as the storage writer keeps one: strings are written into it as UTF-8. */
const page = Buffer.alloc(1 << 20);
let at = 0;
function deliver(data: string): number {
  if (at > page.length - 65_536) at = 0;
  at += page.write(data, at);
  return at;
}

const work: Record<string, Work> = {
  baseline: (_table, row) => JSON.stringify(row).length,
  evaluateRow: (table, row) => {
    let n = 0;
    for (const r of rules.evaluateRow(table, row)) n += r.data.length + r.bucket.length;
    return n;
  },
  baselineDelivered: (_table, row) => deliver(JSON.stringify(row)),
  evaluateRowDelivered: (table, row) => {
    let n = 0;
    for (const r of rules.evaluateRow(table, row)) n += deliver(r.data);
    return n;
  },
  evaluateParameterRow: (table, row) => rules.evaluateParameterRow(table, row).length,
};

let sink = 0;
function round(fn: Work): { wall: number; cpu: number } {
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (const { table, row } of rows) sink += fn(table, row);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu);
  return { wall: rows.length / seconds, cpu: rows.length / ((used.user + used.system) / 1e6) };
}

const rates: Record<string, Rates> = {};
for (const fn of Object.values(work)) for (let i = 0; i < Math.min(rows.length, 50_000); i++) sink += fn(rows[i]!.table, rows[i]!.row); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, fn] of Object.entries(work)) {
    const { wall, cpu } = round(fn);
    const into = (rates[name] ??= { wall: [], cpu: [] });
    into.wall.push(wall);
    into.cpu.push(cpu);
  }
}

const m = (x: number) => (x / 1e6).toFixed(2);
const range = (xs: number[]) => `${m(Math.min(...xs))}–${m(Math.max(...xs))}`;

console.log(`Row evaluator on the demo rules (version ${rules.version}): ${ROWS.toLocaleString()} rows × ${ROUNDS} rounds, ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, load ${os.loadavg()[0]!.toFixed(1)}`);
console.log(`${'M rows/s'.padEnd(24)} ${'wall median (range)'.padEnd(22)} CPU-time median (range)`);
for (const [name, r] of Object.entries(rates)) {
  console.log(`${name.padEnd(24)} ${`${m(median(r.wall))} (${range(r.wall)})`.padEnd(22)} ${m(median(r.cpu))} (${range(r.cpu)})`);
}
const ours = rates.evaluateRow!;
const base = rates.baseline!;
const oursDelivered = rates.evaluateRowDelivered!;
const baseDelivered = rates.baselineDelivered!;
/** Per-round ratios: each evaluator round against the baseline round beside it. */
const ratios = (a: Rates, b: Rates) => a.cpu.map((x, i) => x / b.cpu[i]!).sort((x, y) => x - y);
const alone = ratios(ours, base);
const delivered = ratios(oursDelivered, baseDelivered);
console.log(`evaluateRow / baseline (CPU time, per round): median ${median(alone).toFixed(2)}x, range ${alone[0]!.toFixed(2)}–${alone.at(-1)!.toFixed(2)}; delivered: median ${median(delivered).toFixed(2)}x, range ${delivered[0]!.toFixed(2)}–${delivered.at(-1)!.toFixed(2)} (checksum ${sink % 997})`);
const met = median(ours.cpu) >= 1e6;
console.log(`target >= 1.00 M rows/s per core: ${met ? 'met' : 'not met'} (${m(median(ours.cpu))} M rows/s per CPU second; ${m(median(ours.wall))} per wall second at load ${os.loadavg()[0]!.toFixed(1)})`);

const figures: Figure[] = [
  {
    scenario: 0,
    case: `row evaluator, demo rules, ${ROWS.toLocaleString()} rows`,
    ours: `${m(median(ours.cpu))} M rows/s per core`,
    baseline: `JSON.stringify of the row ${m(median(base.cpu))} M rows/s`,
    ratio: ratio(median(ours.cpu), median(base.cpu)),
    target: '1 M rows/s',
    met,
  },
  {
    scenario: 0,
    case: 'row evaluator + COPY write of its data',
    ours: `${m(median(oursDelivered.cpu))} M rows/s per core`,
    baseline: `JSON.stringify + the same write ${m(median(baseDelivered.cpu))} M rows/s`,
    ratio: ratio(median(oursDelivered.cpu), median(baseDelivered.cpu)),
    target: '-',
    met: null,
  },
];
publishFigures('row-evaluator', figures);
