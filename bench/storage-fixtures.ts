/** Rows and helpers shared by the bucket storage benchmark (bench/storage.ts). */
import type pg from 'pg';
import type { BatchOp } from '@/lib/sync/storage';

/** `--quick` (npm run bench -- --quick): one round, a 200k-op bucket instead of 1M, fewer samples. */
export const QUICK = process.argv.includes('--quick');

export interface ReportRow {
  what: string;
  value: string;
}

const LISTS = 100;

/** `count` todo-like rows (~200 bytes of JSON each, every value text) spread over 100 list buckets. */
export function todoOps(count: number, offset = 0, version = 0): BatchOp[] {
  return Array.from({ length: count }, (_, i) => {
    const n = offset + i;
    const list = `list-${n % LISTS}`;
    const data = JSON.stringify({ id: `todo-${n}`, list_id: list, description: `Todo number ${n}, version ${version}`, completed: n % 3 === 0 ? 'true' : 'false', created_at: '2026-01-02T03:04:05.678Z', created_by: '8c1f2c8e-8b0e-4f7a-9d51-3f3c0c7a1b2e' });
    return { bucket: `todos["${list}"]`, op: 'PUT', table: 'todos', rowId: `todo-${n}`, data };
  });
}

/** The baseline's table: the columns and primary key of lockstep.ops, nothing else. */
export async function createRawTable(pool: pg.Pool, table: string): Promise<void> {
  await pool.query(`CREATE TABLE ${table} (bucket text COLLATE "C", op_id bigint, op text, table_name text COLLATE "C", row_id text COLLATE "C", data text, checksum bigint, PRIMARY KEY (bucket, op_id))`);
}

/** The baseline: the same columns into a plain table, one bulk statement per batch. */
export async function rawInsert(pool: pg.Pool, table: string, ops: BatchOp[], firstOpId: number): Promise<void> {
  await pool.query(
    `INSERT INTO ${table} (bucket, op_id, op, table_name, row_id, data, checksum)
     SELECT o.bucket, $1::bigint + o.ord, o.op, o.table_name, o.row_id, o.data, 0
       FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS o(bucket, op, table_name, row_id, data, ord)`,
    [firstOpId - 1, ops.map((o) => o.bucket), ops.map((o) => o.op), ops.map((o) => o.table), ops.map((o) => o.rowId), ops.map((o) => o.data)],
  );
}

/** Milliseconds `fn` takes. */
export async function timed(fn: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

