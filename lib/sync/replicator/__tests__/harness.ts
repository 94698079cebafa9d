import type pg from 'pg';
import { expect } from 'vitest';
import type { CompiledSyncRules } from '@/lib/sync/config';
import { opChecksum, addChecksums } from '@/lib/sync/protocol/checksum';
import { migrateStorage } from '@/lib/sync/storage';
import { textTypes } from '../source';
import { Replicator, type ReplicatorOptions } from '../replicator';
import { createLogger, silentLogger } from '../log';
import { createTestDatabase, type TestDatabase } from '@/test/db';

/** Per bucket: `${table}/${rowId}` → data JSON text. */
export type BucketContents = Map<string, Map<string, string>>;

export interface ReplicationFixture {
  app: TestDatabase;
  storage: TestDatabase;
  rules: CompiledSyncRules;
  start(options?: Partial<ReplicatorOptions>): Replicator;
  drop(): Promise<void>;
}

/** An app database with the given schema SQL and publication, and an empty storage database. */
export async function replicationFixture(rules: CompiledSyncRules, schemaSql?: string): Promise<ReplicationFixture> {
  const app = await createTestDatabase({ prefix: 'app', migrate: schemaSql === undefined });
  if (schemaSql) await app.pool.query(schemaSql);
  await app.pool.query(rules.publicationSql());
  const storage = await createTestDatabase({ prefix: 'store', migrate: false });
  await migrateStorage(storage.url);
  const running: Replicator[] = [];
  const runs: Promise<void>[] = [];
  return {
    app,
    storage,
    rules,
    start(options = {}) {
      const replicator = new Replicator({ sourceUrl: app.url, storageUrl: storage.url, rules, log: process.env.LOCKSTEP_TEST_LOG ? createLogger({ test: true }, 'debug') : silentLogger, retryMinMs: 100, retryMaxMs: 1000, compactEveryMs: 0, ...options });
      running.push(replicator);
      runs.push(replicator.run());
      return replicator;
    },
    async drop() {
      await Promise.all(running.map((r) => r.stop()));
      await Promise.all(runs);
      await storage.drop();
      await app.drop();
    },
  };
}

/** Replays a version's ops the way a client would: PUT upserts, REMOVE deletes, CLEAR empties, MOVE does nothing. */
export async function bucketContents(storage: pg.Pool, rulesId: number): Promise<BucketContents> {
  const { rows } = await storage.query<{ bucket: string; op: string; table_name: string | null; row_id: string | null; data: string | null; checksum: string }>(
    'SELECT bucket, op, table_name, row_id, data, checksum FROM lockstep.ops WHERE rules_id = $1 ORDER BY bucket, op_id',
    [rulesId],
  );
  const contents: BucketContents = new Map();
  const sums = new Map<string, number>();
  for (const op of rows) {
    const bucket = contents.get(op.bucket) ?? new Map<string, string>();
    contents.set(op.bucket, bucket);
    const key = `${op.table_name}/${op.row_id}`;
    if (op.op === 'PUT') bucket.set(key, op.data!);
    else if (op.op === 'REMOVE') bucket.delete(key);
    else if (op.op === 'CLEAR') bucket.clear();
    if (op.op === 'PUT' || op.op === 'REMOVE') expect(Number(op.checksum)).toBe(opChecksum(op.op, op.table_name!, op.row_id!, op.data));
    sums.set(op.bucket, addChecksums(sums.get(op.bucket) ?? 0, Number(op.checksum)));
  }
  // The running totals kept for checkpoints equal the sums of the ops.
  const states = await storage.query<{ bucket: string; checksum: string }>('SELECT bucket, checksum FROM lockstep.bucket_state WHERE rules_id = $1', [rulesId]);
  for (const s of states.rows) expect(Number(s.checksum), `checksum of ${s.bucket}`).toBe(sums.get(s.bucket) ?? 0);
  for (const [bucket, rowsOf] of contents) if (rowsOf.size === 0) contents.delete(bucket);
  return contents;
}

/** What the sync rules select from the source right now, in the same shape. */
export async function expectedContents(app: pg.Pool, rules: CompiledSyncRules): Promise<BucketContents> {
  const contents: BucketContents = new Map();
  for (const table of rules.sourceTables) {
    const key = rules.tableKey(table.schema, table.name);
    if (!rules.isDataTable(key)) continue;
    const { rows, fields } = await app.query({ text: `SELECT * FROM "${table.schema}"."${table.name}"`, types: textTypes });
    rules.observeColumns(key, fields.map((f) => f.name));
    for (const row of rows as Array<Record<string, string | null>>) {
      const rowId = rules.rowId(key, row);
      for (const placed of rules.evaluateRow(key, row)) {
        const bucket = contents.get(placed.bucket) ?? new Map<string, string>();
        contents.set(placed.bucket, bucket);
        bucket.set(`${placed.table}/${rowId}`, placed.data);
      }
    }
  }
  return contents;
}

export function asObject(contents: BucketContents): Record<string, Record<string, string>> {
  return Object.fromEntries([...contents].sort(([a], [b]) => (a < b ? -1 : 1)).map(([bucket, rows]) => [bucket, Object.fromEntries([...rows].sort(([a], [b]) => (a < b ? -1 : 1)))]));
}

/** The active (or only) rules version's id once it exists. */
export async function activeVersion(storage: pg.Pool, timeoutMs = 30_000): Promise<number> {
  return poll(async () => {
    const { rows } = await storage.query<{ id: number }>("SELECT id FROM lockstep.rules_versions WHERE state = 'active' ORDER BY id DESC LIMIT 1");
    return rows[0]?.id;
  }, timeoutMs, 'an active rules version');
}

/**
 * Waits until storage reflects every source transaction committed before this call: the active
 * version's slot has confirmed a position past the source's current WAL end (the replicator
 * confirms only what storage has committed).
 */
export async function waitForCatchUp(app: pg.Pool, storage: pg.Pool, timeoutMs = 30_000): Promise<void> {
  // The insert position: with synchronous_commit=off (the test cluster) the write position can
  // still be behind commits that have returned.
  const { rows } = await app.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
  const target = rows[0]!.lsn;
  await poll(async () => {
    const version = await storage.query<{ slot_name: string }>("SELECT slot_name FROM lockstep.rules_versions WHERE state = 'active'");
    const slot = version.rows[0]?.slot_name;
    if (!slot) return undefined;
    const r = await app.query<{ ok: boolean }>('SELECT confirmed_flush_lsn >= $2::pg_lsn AS ok, confirmed_flush_lsn::text AS c FROM pg_replication_slots WHERE slot_name = $1', [slot, target]);
    return r.rows[0]?.ok || undefined;
  }, timeoutMs, `the replicator to confirm ${target}`);
}

export async function poll<T>(fn: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
