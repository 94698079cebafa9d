/**
 * `npm run sync:compact`: compacts the active rules version in bucket storage (SYNC_DATABASE_URL,
 * else `<DATABASE_URL's database>_sync`, as `npm run dev` sets it up) and prints sizes before and
 * after. Safe while the replicator runs: compaction only touches ops up to the latest checkpoint.
 *
 *   npm run sync:compact                       every bucket changed since its last compaction
 *   npm run sync:compact -- --bucket 'todos["1"]' --bucket ...   only these (always compacted)
 *   npm run sync:compact -- --version 3        another rules version than the active one
 *   npm run sync:compact -- --no-vacuum        skip the VACUUM afterwards
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { databaseName, redact, withDatabase } from '@/lib/db/postgres/admin';
import { BucketStorage, type CompactResult, type StorageStats } from '@/lib/sync/storage';

export interface SyncCompactOptions {
  url: string;
  rulesId?: number;
  buckets?: string[];
  vacuum?: boolean;
  print?: (line: string) => void;
}

/** Compacts one rules version and prints a before/after report; returns the compaction result. */
export async function syncCompact(options: SyncCompactOptions): Promise<CompactResult> {
  const print = options.print ?? ((line: string) => console.log(line));
  const pool = new pg.Pool({ connectionString: options.url, max: 2 });
  pool.on('error', (error) => print(`storage connection error: ${error.message}`));
  try {
    const { rows } = await pool.query<{ ready: string | null }>("SELECT to_regclass('lockstep.rules_versions')::text AS ready");
    if (!rows[0]?.ready) throw new Error(`Bucket storage at ${redact(options.url)} is not set up (no lockstep schema). Start the app or the replicator once, which migrates it.`);
    const storage = new BucketStorage(pool);
    const version = options.rulesId === undefined ? await storage.activeRulesVersion() : await storage.getRulesVersion(options.rulesId);
    if (!version) throw new Error(options.rulesId === undefined ? 'No rules version is active yet: the replicator has not finished its first snapshot.' : `Rules version ${options.rulesId} does not exist.`);
    print(`Compacting rules version ${version.id} (${version.state}, rules ${version.versionHash}) in ${redact(options.url)}`);
    const before = await storage.storageStats(version.id);
    const started = performance.now();
    const result = await storage.compact(version.id, { buckets: options.buckets, vacuum: options.vacuum ?? true });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const after = await storage.storageStats(version.id);
    for (const line of report(result, before, after, seconds)) print(line);
    return result;
  } finally {
    await pool.end();
  }
}

function report(r: CompactResult, before: StorageStats, after: StorageStats, seconds: string): string[] {
  const n = (value: number) => value.toLocaleString('en');
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  return [
    `  up to checkpoint      op ${n(r.upToOpId)}`,
    `  buckets compacted     ${n(r.bucketsCompacted)} of ${n(after.buckets)}`,
    `  ops                   ${n(r.opsBefore)} → ${n(r.opsAfter)} (${n(r.movedOps)} became MOVE, ${n(r.mergedOps)} merged into CLEAR)`,
    `  op data compacted     ${mb(r.dataBytesBefore)} → ${mb(r.dataBytesAfter)}`,
    `  lockstep.ops on disk  ${mb(r.relationBytesBefore)} → ${mb(r.relationBytesAfter)}`,
    `  storage on disk       ${mb(before.totalBytes)} → ${mb(after.totalBytes)}`,
    `  checkpoints pruned    ${n(r.checkpointsPruned)}`,
    `  took                  ${seconds} s`,
  ];
}

function storageUrl(env: NodeJS.ProcessEnv): string {
  if (env.SYNC_DATABASE_URL) return env.SYNC_DATABASE_URL;
  if (env.DATABASE_URL) return withDatabase(env.DATABASE_URL, `${databaseName(env.DATABASE_URL)}_sync`);
  throw new Error('Set SYNC_DATABASE_URL (or DATABASE_URL, whose database gets a "_sync" suffix) to the bucket storage database.');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { bucket: { type: 'string', multiple: true }, version: { type: 'string' }, 'no-vacuum': { type: 'boolean', default: false } },
  });
  await syncCompact({
    url: storageUrl(process.env),
    rulesId: values.version === undefined ? undefined : Number(values.version),
    buckets: values.bucket,
    vacuum: !values['no-vacuum'],
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(`sync:compact failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
