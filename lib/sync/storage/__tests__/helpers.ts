import { randomBytes } from 'node:crypto';
import { addChecksums } from '@/lib/sync/protocol/checksum';
import { createTestDatabase, type TestDatabase } from '@/test/db';
import { BucketStorage } from '../bucket-storage';
import { migrateStorage } from '../migrate';
import type { BatchOp, StoredOp } from '../types';

/** A migrated storage database for one test file. */
export async function createStorageDatabase(): Promise<TestDatabase & { storage: BucketStorage }> {
  const db = await createTestDatabase({ migrate: false, prefix: 'storage' });
  await migrateStorage(db.url);
  return { ...db, storage: new BucketStorage(db.pool) };
}

/** A fresh rules version, so tests in one file never see each other's ops. */
export async function newRulesVersion(storage: BucketStorage): Promise<number> {
  const building = await storage.buildingRulesVersion();
  if (building) await storage.retireRulesVersion(building.id);
  const version = await storage.createRulesVersion({ versionHash: randomBytes(6).toString('hex'), slotName: 'lockstep_test' });
  return version.id;
}

export const put = (bucket: string, rowId: string, data: string, table = 'todos'): BatchOp => ({ bucket, op: 'PUT', table, rowId, data });
export const remove = (bucket: string, rowId: string, table = 'todos'): BatchOp => ({ bucket, op: 'REMOVE', table, rowId, data: null });

/** What a client holds for one bucket: its rows and its running checksum. */
export interface ClientBucket {
  rows: Map<string, string>;
  checksum: number;
  lastOpId: number;
}

export function emptyClientBucket(): ClientBucket {
  return { rows: new Map(), checksum: 0, lastOpId: 0 };
}

/**
 * Applies ops the way a client does (docs/storage.md#replaying-ops): PUT upserts, REMOVE
 * deletes, MOVE changes nothing but the checksum, CLEAR empties the bucket and resets the
 * checksum to its own.
 */
export function applyOps(state: ClientBucket, ops: StoredOp[]): ClientBucket {
  for (const op of ops) {
    const key = `${op.table}/${op.rowId}`;
    if (op.op === 'CLEAR') {
      state.rows.clear();
      state.checksum = op.checksum;
    } else {
      if (op.op === 'PUT') state.rows.set(key, op.data!);
      else if (op.op === 'REMOVE') state.rows.delete(key);
      state.checksum = addChecksums(state.checksum, op.checksum);
    }
    state.lastOpId = op.opId;
  }
  return state;
}

/** Every op of a bucket up to `upTo`, read in pages as the stream would. */
export async function readAllOps(storage: BucketStorage, rulesId: number, bucket: string, after: number, upTo: number, page = 7): Promise<StoredOp[]> {
  const all: StoredOp[] = [];
  for (;;) {
    const ops = await storage.readOps(rulesId, bucket, after, upTo, page);
    all.push(...ops);
    if (ops.length < page) return all;
    after = ops[ops.length - 1]!.opId;
  }
}
