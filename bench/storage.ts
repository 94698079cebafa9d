/**
 * Bucket storage benchmark: `npx tsx bench/storage.ts`.
 *
 * Runs against a temporary database on DATABASE_URL's server, or on a local cluster started for
 * the run (BENCH_DURABILITY=test turns fsync off; the default keeps it on, as in production).
 * Every figure comes with a same-run baseline: the same rows written with a plain
 * INSERT ... SELECT FROM unnest into a table with the same columns and primary key, so the
 * numbers say what bucket storage adds on top of what this machine's Postgres can do at all.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { withDatabase } from '@/lib/db/postgres/admin';
import { freePort, startLocalCluster, type LocalCluster } from '@/lib/db/postgres/local-cluster';
import { BucketStorage, commitSnapshotChunk, migrateStorage, SnapshotChunk } from '@/lib/sync/storage';
import { median, publishFigures, type Figure } from './report';
import { createRawTable, QUICK, rawInsert, timed, todoOps, type ReportRow } from './storage-fixtures';
import { checkpointLatency, compaction } from './storage-scenarios';

/** Rounds per measurement; the median is reported, since machines running this are often shared. */
const ROUNDS = QUICK ? 1 : 3;


async function bulk(storage: BucketStorage, pool: pg.Pool, report: ReportRow[], figures: Figure[]): Promise<void> {
  const ops = todoOps(100_000);
  const batches = Array.from({ length: 10 }, (_, i) => ops.slice(i * 10_000, (i + 1) * 10_000));
  const times = { raw: [] as number[], plain: [] as number[], withRows: [] as number[], chunks: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    const table = `bench_raw_bulk_${round}`;
    await createRawTable(pool, table);
    times.raw.push(
      await timed(async () => {
        for (const [i, batch] of batches.entries()) await rawInsert(pool, table, batch, i * 10_000 + 1);
      }),
    );
    await pool.query(`DROP TABLE ${table}`);
    const opsOnly = (await storage.createRulesVersion({ versionHash: `bulk-${round}`, slotName: 'bench' })).id;
    times.plain.push(
      await timed(async () => {
        for (const batch of batches) await storage.commitBatch(opsOnly, { ops: batch, checkpoint: false });
      }),
    );
    await storage.retireRulesVersion(opsOnly);
    await storage.deleteRulesVersion(opsOnly);
    const snapshot = (await storage.createRulesVersion({ versionHash: `snapshot-${round}`, slotName: 'bench' })).id;
    times.withRows.push(
      await timed(async () => {
        for (const batch of batches) {
          const upsert = batch.map((o) => ({ table: o.table, rowId: o.rowId, buckets: [o.bucket], values: JSON.parse(o.data!) as Record<string, string | null> }));
          await storage.commitBatch(snapshot, { ops: batch, currentRows: { upsert }, checkpoint: false });
        }
      }),
    );
    await storage.retireRulesVersion(snapshot);
    await storage.deleteRulesVersion(snapshot);
    // What the replicator's snapshot does now: COPY, rows kept as buckets + values TOAST may omit.
    const copied = (await storage.createRulesVersion({ versionHash: `chunks-${round}`, slotName: 'bench' })).id;
    const progress = { complete: false, tables: {} };
    times.chunks.push(
      await timed(async () => {
        for (const batch of batches) {
          const chunk = new SnapshotChunk(copied);
          for (const o of batch) {
            chunk.put(o.bucket, o.table, o.rowId, o.data!);
            chunk.currentRow({ table: o.table, rowId: o.rowId, buckets: [o.bucket], values: {}, valuesHash: '' });
          }
          await commitSnapshotChunk(pool, chunk, progress);
        }
      }),
    );
    await storage.retireRulesVersion(copied);
    await storage.deleteRulesVersion(copied);
  }
  const [raw, plain, withRows, chunks] = [median(times.raw), median(times.plain), median(times.withRows), median(times.chunks)];
  report.push(
    { what: '100k PUT ops, 10 batches of 10k: raw INSERT ... unnest (baseline)', value: `${raw.toFixed(0)} ms` },
    { what: '100k PUT ops, 10 batches of 10k: commitBatch', value: `${plain.toFixed(0)} ms (${(plain / raw).toFixed(2)}× baseline)` },
    { what: '100k PUT ops + 100k current rows (a snapshot): commitBatch', value: `${withRows.toFixed(0)} ms (${(withRows / raw).toFixed(2)}× baseline)` },
    { what: '100k PUT ops + 100k current rows (a snapshot): commitSnapshotChunk (COPY)', value: `${chunks.toFixed(0)} ms (${(chunks / raw).toFixed(2)}× baseline)` },
  );
  figures.push({
    scenario: 0,
    case: 'bucket storage: 100k PUT ops + current rows as snapshot chunks (COPY), 10 × 10k',
    ours: `${chunks.toFixed(0)} ms`,
    baseline: `raw INSERT … unnest of the ops alone: ${raw.toFixed(0)} ms`,
    ratio: `${(chunks / raw).toFixed(2)}× the time`,
    target: '-',
    met: null,
  });
}

/** Streaming-sized batches whose ops spread over 100 buckets (many bucket totals to update per batch). */
async function smallBatches(storage: BucketStorage, pool: pg.Pool, report: ReportRow[], figures: Figure[]): Promise<void> {
  for (const size of [100, 1000]) {
    const batches = Array.from({ length: Math.ceil(50_000 / size) }, (_, i) => todoOps(size, (i * size) % 100_000, 1 + i));
    const rates = { raw: [] as number[], commit: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      const table = `bench_raw_${size}_${round}`;
      await createRawTable(pool, table);
      let next = 1;
      const raw = await timed(async () => {
        for (const batch of batches) {
          await rawInsert(pool, table, batch, next);
          next += batch.length;
        }
      });
      await pool.query(`DROP TABLE ${table}`);
      const rulesId = (await storage.createRulesVersion({ versionHash: `small-${size}-${round}`, slotName: 'bench' })).id;
      const ms = await timed(async () => {
        for (const batch of batches) await storage.commitBatch(rulesId, { ops: batch, checkpoint: true, lsn: '0/1' });
      });
      await storage.retireRulesVersion(rulesId);
      await storage.deleteRulesVersion(rulesId);
      rates.raw.push((batches.length * size) / (raw / 1000));
      rates.commit.push((batches.length * size) / (ms / 1000));
    }
    const fmt = (rate: number) => `${Math.round(rate).toLocaleString('en')} ops/s`;
    report.push(
      { what: `${size}-op batches (100 buckets), one transaction each: raw INSERT (baseline)`, value: fmt(median(rates.raw)) },
      { what: `${size}-op batches (100 buckets), each with checkpoint + NOTIFY: commitBatch`, value: `${fmt(median(rates.commit))} (${batches.length} batches)` },
    );
    figures.push({
      scenario: 0,
      case: `bucket storage: ${size}-op batches over 100 buckets, each with a checkpoint`,
      ours: fmt(median(rates.commit)),
      baseline: `raw INSERT, one transaction a batch: ${fmt(median(rates.raw))}`,
      ratio: `${(median(rates.commit) / median(rates.raw)).toFixed(2)}×`,
      target: '-',
      met: null,
    });
  }
}

async function main(): Promise<void> {
  let cluster: LocalCluster | undefined;
  let adminUrl: string;
  if (process.env.DATABASE_URL) adminUrl = withDatabase(process.env.DATABASE_URL, 'postgres');
  else {
    const durability = process.env.BENCH_DURABILITY === 'test' ? 'test' : 'safe';
    cluster = await startLocalCluster({ dataDir: path.resolve('.data/pg-bench'), port: await freePort(), durability, log: () => {} });
    adminUrl = cluster.url('postgres');
  }
  const name = `lockstep_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = withDatabase(adminUrl, name);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  // An idle pooled connection that drops must not crash the run; at the end, DROP DATABASE ...
  // WITH (FORCE) may still find connections pool.end() is closing, which is expected.
  let finished = false;
  pool.on('error', (error) => {
    if (!finished) console.warn(`[bench] idle connection: ${error.message}`);
  });
  try {
    await migrateStorage(url);
    const storage = new BucketStorage(pool);
    const settings = await pool.query<{ version: string; fsync: string; sc: string }>("SELECT current_setting('server_version') AS version, current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sc");
    const s = settings.rows[0]!;
    console.log(`Postgres ${s.version}, fsync=${s.fsync}, synchronous_commit=${s.sc}; run ${randomUUID().slice(0, 8)}\n`);
    const report: ReportRow[] = [];
    const figures: Figure[] = [];
    await bulk(storage, pool, report, figures);
    await smallBatches(storage, pool, report, figures);
    const rulesId = await checkpointLatency(storage, url, report, figures);
    await compaction(storage, rulesId, report, figures);
    const width = Math.max(...report.map((r) => r.what.length));
    console.log(`${'measurement'.padEnd(width)}  result`);
    console.log(`${'-'.repeat(width)}  ${'-'.repeat(40)}`);
    for (const row of report) console.log(`${row.what.padEnd(width)}  ${row.value}`);
    publishFigures('storage', figures);
  } finally {
    finished = true;
    await pool.end();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    await cluster?.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
