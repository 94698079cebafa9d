/** The checkpoint-latency and compaction parts of the bucket storage benchmark (bench/storage.ts). */
import { listenCheckpoints, type BatchOp, type BucketStorage } from '@/lib/sync/storage';
import { QUICK, timed, todoOps, type ReportRow } from './storage-fixtures';

const ITERATIONS = QUICK ? 50 : 200;
/** Batches of 50k ops making the big bucket: 1M ops (200k with --quick). */
const BIG_BATCHES = QUICK ? 4 : 20;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const into = (bucket: string, ops: BatchOp[]): BatchOp[] => ops.map((o) => ({ ...o, bucket }));
const big = QUICK ? '200k' : '1M';

/**
 * Checkpoint cost against bucket size: a 10-op bucket and a 1M-op bucket (100k rows, each
 * written 10 times; 200k ops with --quick) take turns receiving a one-op batch with a checkpoint. Measured twice: until
 * commitBatch returns, and until the NOTIFY arrives on a listener. Returns the rules version,
 * whose big bucket the compaction scenario reuses.
 */
export async function checkpointLatency(storage: BucketStorage, url: string, report: ReportRow[]): Promise<number> {
  const rulesId = (await storage.createRulesVersion({ versionHash: 'latency', slotName: 'bench' })).id;
  await storage.commitBatch(rulesId, { ops: into('small', todoOps(10)), checkpoint: true });
  const build = await timed(async () => {
    for (let i = 0; i < BIG_BATCHES; i++) await storage.commitBatch(rulesId, { ops: into('big', todoOps(50_000, (i % 2) * 50_000, Math.floor(i / 2))), checkpoint: true });
  });
  report.push({ what: `building a ${big}-op bucket: ${BIG_BATCHES} batches of 50k`, value: `${(build / 1000).toFixed(1)} s (${Math.round((BIG_BATCHES * 50_000) / (build / 1000)).toLocaleString('en')} ops/s)` });

  // Arrival time of every notice, by op id: a NOTIFY may arrive before commitBatch returns.
  const arrivals = new Map<number, number>();
  let wake: (() => void) | undefined;
  const listener = listenCheckpoints(url, ({ opId }) => {
    arrivals.set(opId, performance.now());
    wake?.();
  });
  await listener.ready;
  const samples: Record<'small' | 'big', { commit: number[]; notify: number[] }> = { small: { commit: [], notify: [] }, big: { commit: [], notify: [] } };
  try {
    for (let i = 0; i < ITERATIONS; i++) {
      for (const bucket of ['small', 'big'] as const) {
        const started = performance.now();
        const result = await storage.commitBatch(rulesId, { ops: into(bucket, todoOps(1, i, 100)), checkpoint: true });
        samples[bucket].commit.push(performance.now() - started);
        while (!arrivals.has(result.lastOpId)) await new Promise<void>((resolve) => (wake = resolve));
        samples[bucket].notify.push(arrivals.get(result.lastOpId)! - started);
      }
    }
  } finally {
    await listener.close();
  }
  for (const bucket of ['small', 'big'] as const) {
    const label = bucket === 'small' ? '10-op bucket' : `${big}-op bucket`;
    const { commit, notify } = samples[bucket];
    report.push({ what: `checkpoint into a ${label}: commitBatch returns (p50 / p95)`, value: `${percentile(commit, 50).toFixed(2)} / ${percentile(commit, 95).toFixed(2)} ms` });
    report.push({ what: `checkpoint into a ${label}: NOTIFY received (p50 / p95)`, value: `${percentile(notify, 50).toFixed(2)} / ${percentile(notify, 95).toFixed(2)} ms` });
  }
  return rulesId;
}

/**
 * Compacts the big bucket, whose 100k rows were each written several times in order (so all but
 * the last 100k ops form one leading run), then a bucket of 20k rows updated 10 times in random order
 * (superseded ops scattered between live ones, so they become MOVE ops).
 */
export async function compaction(storage: BucketStorage, rulesId: number, report: ReportRow[]): Promise<void> {
  await describe(storage, report, `compaction of the ${big}-op bucket (+ the 10-op one)`, () => storage.compact(rulesId));
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const rows = todoOps(20_000);
  for (let i = 0; i < 10; i++) {
    const ops = Array.from({ length: 20_000 }, (_, k) => ({ ...rows[Math.floor(random() * rows.length)]!, bucket: 'scattered', data: `{"v":${i},"k":${k}}` }));
    await storage.commitBatch(rulesId, { ops, checkpoint: true });
  }
  await describe(storage, report, 'compaction of a 200k-op bucket, 20k rows updated at random', () => storage.compact(rulesId, { buckets: ['scattered'] }));
}

async function describe(storage: BucketStorage, report: ReportRow[], what: string, run: () => ReturnType<BucketStorage['compact']>): Promise<void> {
  let result: Awaited<ReturnType<BucketStorage['compact']>> | undefined;
  const ms = await timed(async () => {
    result = await run();
  });
  const vacuum = await timed(async () => {
    await storage.pool.query('VACUUM lockstep.ops');
  });
  const r = result!;
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  report.push(
    { what, value: `${(ms / 1000).toFixed(1)} s, then VACUUM lockstep.ops ${(vacuum / 1000).toFixed(1)} s` },
    { what: '  ops before → after', value: `${r.opsBefore.toLocaleString('en')} → ${r.opsAfter.toLocaleString('en')} (${r.movedOps.toLocaleString('en')} MOVE, ${r.mergedOps.toLocaleString('en')} merged into CLEAR)` },
    { what: '  op data before → after', value: `${mb(r.dataBytesBefore)} → ${mb(r.dataBytesAfter)}` },
  );
}
