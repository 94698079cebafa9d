import pg from 'pg';

/**
 * The e2e server's databases, as playwright.config.ts starts it: DATABASE_URL's server when set,
 * else the local cluster in .data/pg-e2e (LOCKSTEP_E2E_PG_PORT, default 54339); database
 * lockstep_e2e and its bucket storage lockstep_e2e_sync.
 */
export function e2eDatabaseUrl(env: Readonly<Record<string, string | undefined>> = process.env): string {
  if (env.LOCKSTEP_E2E_DATABASE_URL) return env.LOCKSTEP_E2E_DATABASE_URL;
  const base = env.DATABASE_URL ?? `postgres://postgres:lockstep@127.0.0.1:${env.LOCKSTEP_E2E_PG_PORT ?? '54339'}/postgres`;
  const url = new URL(base);
  url.pathname = '/lockstep_e2e';
  return url.toString();
}

export function storageUrlOf(appUrl: string): string {
  const url = new URL(appUrl);
  url.pathname = `${url.pathname}_sync`;
  return url.toString();
}

/** SQL access to the app database and bucket storage of the server under test. */
export interface TestSql {
  /** Runs SQL on the app database (Postgres, the source of truth). */
  query<T extends pg.QueryResultRow = Record<string, unknown>>(text: string, values?: unknown[]): Promise<T[]>;
  /** Runs SQL on bucket storage. */
  storage<T extends pg.QueryResultRow = Record<string, unknown>>(text: string, values?: unknown[]): Promise<T[]>;
  /** Waits until the replicator has put everything committed so far into bucket storage; returns the latest checkpoint's op id. */
  replicated(timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
}

/** Opens SQL access to the server under test (`e2eDatabaseUrl()` by default). */
export function testSql(appUrl = e2eDatabaseUrl()): TestSql {
  const app = new pg.Pool({ connectionString: appUrl, max: 3 });
  const storage = new pg.Pool({ connectionString: storageUrlOf(appUrl), max: 2 });
  app.on('error', () => undefined);
  storage.on('error', () => undefined);
  return {
    query: async (text, values) => (await app.query(text, values)).rows,
    storage: async (text, values) => (await storage.query(text, values)).rows,
    async replicated(timeoutMs = 30_000) {
      const target = (await app.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0]!.lsn;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const version = (await storage.query<{ id: number; slot_name: string }>("SELECT id, slot_name FROM lockstep.rules_versions WHERE state = 'active'")).rows[0];
        if (version) {
          const slot = await app.query<{ ok: boolean }>('SELECT confirmed_flush_lsn >= $2::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = $1', [version.slot_name, target]);
          if (slot.rows[0]?.ok) {
            const cp = await storage.query<{ op_id: string }>('SELECT max(op_id)::text AS op_id FROM lockstep.checkpoints WHERE rules_id = $1', [version.id]);
            return cp.rows[0]?.op_id ?? '0';
          }
        }
        if (Date.now() > deadline) throw new Error(`the replicator did not reach ${target} within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async close() {
      await Promise.all([app.end(), storage.end()]);
    },
  };
}
