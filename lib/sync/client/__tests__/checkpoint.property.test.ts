import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ClientSchema } from '@/lib/sync/config';
import type { SyncLine } from '@/lib/sync/protocol';
import type { SqlDatabase } from '../db/database';
import { openNodeDatabase } from '../db/open-node';
import { silentLogger } from '../log';
import { LocalStore } from '../storage/local-store';
import { CheckpointSync } from '../sync/checkpoint-sync';
import { emptyUploadQueue } from '../upload-queue';
import { storeContents } from './helpers';
import { ModelServer, type ModelStream } from './model-server';

/**
 * Invariants 2 and 3 (DESIGN.md) as a property: whatever the server does (writes, grants,
 * compaction, new rules versions) and however streams are cut, corrupted or reloaded, the local
 * store always equals the contents of a complete checkpoint the server made (the last one the
 * client applied), and after one uninterrupted stream it equals the newest.
 */

const BUCKETS = ['a[]', 'b[]', 'c[]'];
const TABLES = ['t1', 't2'];
/** t1 has a view; t2 does not, so its store is dropped whenever no bucket holds rows of it. */
const schema: ClientSchema = {
  version: 'test',
  tables: [
    {
      name: 't1',
      sourceTable: 'public.t1',
      storeTable: 'ls_data__t1',
      columns: [],
      createStoreSql: 'CREATE TABLE IF NOT EXISTS "ls_data__t1" (id TEXT PRIMARY KEY NOT NULL, data TEXT NOT NULL)',
      createViewSql: `CREATE VIEW "t1" AS SELECT "id", json_extract(data, '$.v') AS "v" FROM "ls_data__t1"`,
      dropViewSql: 'DROP VIEW IF EXISTS "t1"',
    },
  ],
};

type Action =
  | { kind: 'write'; table: number; row: number; value: number | null; buckets: boolean[] }
  | { kind: 'checkpoint' }
  | { kind: 'grant'; bucket: number; on: boolean }
  | { kind: 'compact' }
  | { kind: 'rules' }
  | { kind: 'pull'; lines: number }
  | { kind: 'cut' }
  | { kind: 'corrupt' }
  | { kind: 'reload' };

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('write' as const), table: fc.nat(1), row: fc.nat(5), value: fc.option(fc.nat(99), { freq: 5 }), buckets: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }) }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'checkpoint' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('grant' as const), bucket: fc.nat(2), on: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'compact' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'rules' as const }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('pull' as const), lines: fc.integer({ min: 1, max: 12 }) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'cut' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'corrupt' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reload' as const }) },
);

class Client {
  sync: CheckpointSync;
  stream: ModelStream | undefined;
  applied = 0;

  constructor(
    private readonly db: SqlDatabase,
    private readonly server: ModelServer,
    private readonly pageSize: number,
  ) {
    this.sync = this.load();
  }

  private load(): CheckpointSync {
    return new CheckpointSync(LocalStore.open(this.db, schema), emptyUploadQueue, silentLogger);
  }

  reload(): void {
    this.stream = undefined;
    this.sync = this.load();
  }

  /** Feeds up to `n` lines; returns false when the stream ended (the client would reconnect). */
  async pull(n: number, check: () => void): Promise<void> {
    for (let i = 0; i < n; i++) {
      if (!this.stream) {
        this.stream = this.server.open(this.sync.request(), this.pageSize);
        this.sync.streamStarted();
      }
      const line: SyncLine | undefined = this.stream.next();
      if (!line) return;
      switch (line.type) {
        case 'checkpoint':
          this.sync.checkpoint(line);
          break;
        case 'checkpoint_diff':
          this.sync.diff(line);
          break;
        case 'data':
          this.sync.data([line]);
          break;
        case 'checkpoint_complete': {
          const outcome = await this.sync.complete(line);
          if (outcome.kind === 'applied') this.applied++;
          if (outcome.kind === 'checksum_failed') this.stream = undefined;
          break;
        }
        case 'error':
          this.stream = undefined;
          break;
        default:
          break;
      }
      check();
    }
  }
}

describe('checkpoint application (property)', () => {
  it('local state always equals a complete server checkpoint, and converges to the newest', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 10, maxLength: 120, size: 'max' }), fc.integer({ min: 1, max: 4 }), fc.uniqueArray(fc.nat(2), { minLength: 1, maxLength: 3 }), async (actions, pageSize, initialGrants) => {
        const server = new ModelServer(BUCKETS);
        for (const g of initialGrants) server.granted.add(BUCKETS[g]!);
        const db = await openNodeDatabase();
        const client = new Client(db, server, pageSize);
        const check = () => {
          const applied = client.sync['store'].applied().appliedOpId;
          const expected = applied === null ? {} : server.expected.get(Number(applied));
          expect(expected, `applied checkpoint ${applied} is one the server made`).toBeDefined();
          expect(storeContents(db)).toEqual(expected);
        };
        try {
          for (const a of actions) {
            switch (a.kind) {
              case 'write':
                server.write(TABLES[a.table]!, `r${a.row}`, a.value === null ? null : JSON.stringify({ id: `r${a.row}`, v: a.value }), BUCKETS.filter((_, i) => a.buckets[i]));
                break;
              case 'checkpoint':
                server.checkpoint();
                break;
              case 'grant':
                if (a.on) server.granted.add(BUCKETS[a.bucket]!);
                else server.granted.delete(BUCKETS[a.bucket]!);
                server.checkpoint();
                break;
              case 'compact':
                server.compact();
                break;
              case 'rules':
                server.newRulesVersion();
                break;
              case 'pull':
                await client.pull(a.lines, check);
                break;
              case 'cut':
                client.stream = undefined;
                break;
              case 'corrupt':
                if (client.stream) client.stream.corruptNext = true;
                break;
              case 'reload':
                client.reload();
                check();
                break;
            }
          }
          // Then one stream that is never cut: the client reaches the newest checkpoint.
          server.checkpoint();
          client.stream = undefined;
          for (let round = 0; round < 3; round++) {
            await client.pull(10_000, check);
            if (client.sync['store'].applied().appliedOpId === String(server.latest!.opId)) break;
            client.stream = undefined;
          }
          expect(client.sync['store'].applied().appliedOpId).toBe(String(server.latest!.opId));
          expect(storeContents(db)).toEqual(server.expected.get(server.latest!.opId));
        } finally {
          db.close();
        }
      }),
      { numRuns: 300 },
    );
  }, 120_000);
});

describe('checkpoint application (examples)', () => {
  it('a row removed from its only bucket leaves the store at the next checkpoint', async () => {
    const server = new ModelServer(BUCKETS);
    server.granted.add('a[]');
    const db = await openNodeDatabase();
    const client = new Client(db, server, 2);
    server.write('t1', 'r0', '{"v":1}', ['a[]']);
    server.checkpoint();
    await client.pull(100, () => {});
    expect(storeContents(db)).toEqual({ 't1/r0': '{"v":1}' });
    server.write('t1', 'r0', null, []);
    server.write('t1', 'r1', '{"v":2}', ['a[]']);
    server.checkpoint();
    await client.pull(100, () => {});
    expect(storeContents(db)).toEqual({ 't1/r1': '{"v":2}' });
    db.close();
  });
});
