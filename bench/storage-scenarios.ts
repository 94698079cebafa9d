/** The checkpoint-latency and compaction parts of the bucket storage benchmark (bench/storage.ts). */
import { listenCheckpoints, type BatchOp, type BucketStorage } from '@/lib/sync/storage';
import { percentile, type Figure } from './report';
import { QUICK, timed, todoOps, type ReportRow } from './storage-fixtures';

const ITERATIONS = QUICK ? 50 : 200;
/** Batches of 50k ops making the big bucket: 1M ops (200k with --quick). */
const BIG_BATCHES = QUICK ? 4 : 20;

const into = (bucket: string, ops: BatchOp[]): BatchOp[] => ops.map((o) => ({ ...o, bucket }));
const big = QUICK ? '200k' : '1M';

/**
 * Checkpoint cost against bucket size: a 10-op bucket and a 1M-op bucket (100k rows, each
 * written 10 times; 200k ops with --quick) take turns receiving a one-op batch with a checkpoint. Measured twice: until
 * commitBatch returns, and until the NOTIFY arrives on a listener. Returns the rules version,
 * whose big bucket the compaction scenario reuses.
 */
export async function checkpointLatency(storage: BucketStorage, url: string, report: ReportRow[], figures: Figure[]): Promise<number> {
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
  const p50 = (bucket: 'small' | 'big') => percentile(samples[bucket].notify, 50);
  figures.push({
    scenario: 4,
    case: `bucket storage alone: one-op commit → checkpoint NOTIFY, ${big}-op bucket`,
    ours: `p50 ${p50('big').toFixed(2)} ms, p95 ${percentile(samples.big.notify, 95).toFixed(2)} ms`,
    baseline: `the same into a 10-op bucket: p50 ${p50('small').toFixed(2)} ms`,
    ratio: `${(p50('big') / p50('small')).toFixed(2)}×`,
    target: 'independent of bucket size',
    met: null,
  });
  return rulesId;
}

/** A bucket's stored ops: count, bytes (whole rows, as Postgres stores them), and checksum recomputed from the ops. */
async function measureBucket(storage: BucketStorage, rulesId: number, bucket: string): Promise<{ ops: number; bytes: number; checksum: number; running: number }> {
  const { rows } = await storage.pool.query<{ ops: number; bytes: string | null }>(
    'SELECT count(*)::int AS ops, sum(pg_column_size(o.*))::bigint::text AS bytes FROM lockstep.ops o WHERE rules_id = $1 AND bucket = $2',
    [rulesId, bucket],
  );
  const upTo = (await storage.latestCheckpoint(rulesId))?.opId ?? 0;
  const recomputed = await storage.checksumRange(rulesId, bucket, 0, upTo);
  const running = (await storage.bucketStates(rulesId, [bucket])).get(bucket)?.checksum ?? 0;
  return { ops: rows[0]!.ops, bytes: Number(rows[0]!.bytes ?? 0), checksum: recomputed.checksum, running };
}

/**
 * Compacts one bucket and reports its stored size and checksum before and after, beside the
 * baseline of the same live rows written once into a fresh bucket. The checksum recomputed from
 * the ops must not change (the client verifies it), nor the bucket's running checksum.
 */
async function compactOne(storage: BucketStorage, rulesId: number, bucket: string, live: BatchOp[], label: string, report: ReportRow[], figures: Figure[]): Promise<void> {
  const before = await measureBucket(storage, rulesId, bucket);
  let result: Awaited<ReturnType<BucketStorage['compact']>> | undefined;
  const ms = await timed(async () => {
    result = await storage.compact(rulesId, { buckets: [bucket] });
  });
  const after = await measureBucket(storage, rulesId, bucket);
  // The baseline: the live rows alone, written once into a bucket of their own.
  const baselineBucket = `${bucket}-live-rows`;
  for (let i = 0; i < live.length; i += 50_000) await storage.commitBatch(rulesId, { ops: into(baselineBucket, live.slice(i, i + 50_000)), checkpoint: true });
  const baseline = await measureBucket(storage, rulesId, baselineBucket);
  const unchanged = before.checksum === after.checksum && before.running === after.running && after.checksum === after.running;
  if (!unchanged) throw new Error(`compaction changed the checksum of ${bucket}: ${JSON.stringify({ before, after })}`);
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  const hex = (n: number) => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
  const r = result!;
  report.push(
    { what: `compaction of ${label}`, value: `${(ms / 1000).toFixed(1)} s` },
    { what: '  ops before → after', value: `${before.ops.toLocaleString('en')} → ${after.ops.toLocaleString('en')} (${r.movedOps.toLocaleString('en')} MOVE, ${r.mergedOps.toLocaleString('en')} merged into CLEAR)` },
    { what: '  stored size before → after (live rows written once)', value: `${mb(before.bytes)} → ${mb(after.bytes)} (${mb(baseline.bytes)})` },
    { what: '  bucket checksum before → after', value: `${hex(before.checksum)} → ${hex(after.checksum)}` },
  );
  figures.push({
    scenario: 8,
    case: `compaction of ${label}`,
    ours: `${mb(before.bytes)} → ${mb(after.bytes)}, ${before.ops.toLocaleString('en')} → ${after.ops.toLocaleString('en')} ops in ${(ms / 1000).toFixed(1)} s; checksum ${hex(before.checksum)} → ${hex(after.checksum)}`,
    baseline: `the ${live.length.toLocaleString('en')} live rows written once: ${mb(baseline.bytes)}`,
    ratio: `${(after.bytes / baseline.bytes).toFixed(2)}× after, ${(before.bytes / baseline.bytes).toFixed(2)}× before`,
    target: 'checksum unchanged; size proportional to live rows',
    met: unchanged,
  });
}

/**
 * Compacts the big bucket, whose rows were each written several times in order (so all but the
 * last write of each row form one leading run that collapses into CLEAR), then a bucket of 20k
 * rows updated 10 times in random order (superseded ops scattered between live ones, so they
 * become MOVE ops).
 */
export async function compaction(storage: BucketStorage, rulesId: number, report: ReportRow[], figures: Figure[]): Promise<void> {
  const lastRound = Math.floor((BIG_BATCHES - 1) / 2);
  const bigLive = [...todoOps(50_000, 0, lastRound), ...todoOps(50_000, 50_000, lastRound)];
  // checkpointLatency wrote its one-op batches over the first rows.
  for (let i = 0; i < ITERATIONS; i++) bigLive[i] = todoOps(1, i, 100)[0]!;
  await compactOne(storage, rulesId, 'big', bigLive, `a ${big}-op bucket of 100k rows written in order`, report, figures);
  // A small deterministic PRNG (xorshift32), so every run updates the same rows in the same order.
  let seed = 42;
  const random = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  const rows = todoOps(20_000);
  const latest = new Map<string, BatchOp>();
  for (let i = 0; i < 10; i++) {
    const ops = Array.from({ length: 20_000 }, (_, k) => ({ ...rows[Math.floor(random() * rows.length)]!, bucket: 'scattered', data: `{"v":${i},"k":${k}}` }));
    for (const op of ops) latest.set(op.rowId, op);
    await storage.commitBatch(rulesId, { ops, checkpoint: true });
  }
  await compactOne(storage, rulesId, 'scattered', [...latest.values()], 'a 200k-op bucket, 20k rows updated at random', report, figures);
  const vacuum = await timed(async () => {
    await storage.pool.query('VACUUM lockstep.ops');
  });
  report.push({ what: 'VACUUM lockstep.ops after compaction', value: `${(vacuum / 1000).toFixed(1)} s` });
}
