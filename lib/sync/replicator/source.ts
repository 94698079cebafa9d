import pg from 'pg';
import { ReplicationError } from './errors';
import type { Lsn } from './lsn';

/** A table the sync rules read, as the compiled rules describe it. */
export interface SourceTable {
  schema: string;
  name: string;
  primaryKey: string[];
}

/** Connection options for the source: ISO dates in UTC, so text values are stable. */
export function sourceClientConfig(connectionString: string): pg.ClientConfig {
  return { connectionString, options: '-c DateStyle=ISO -c TimeZone=UTC -c extra_float_digits=3', application_name: 'lockstep-replicator' };
}

/** Parses nothing: every value stays in Postgres text format, as pgoutput delivers it. */
export const textTypes = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig;

export function qualified(table: { schema: string; name: string }): string {
  return `${table.schema}.${table.name}`;
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Checks that every source table exists, is in the publication, and lets the replicator identify
 * deleted rows: REPLICA IDENTITY DEFAULT with a primary key, FULL, or USING INDEX on an index that
 * covers the primary key. NOTHING (or no key at all) is refused: deletes could not be matched.
 */
export async function checkSourceTables(client: pg.Client, publication: string, tables: readonly SourceTable[]): Promise<void> {
  const published = await client.query<{ schemaname: string; tablename: string }>('SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1', [publication]);
  if (published.rowCount === 0) {
    const exists = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [publication]);
    if (!exists.rowCount) {
      throw new ReplicationError('PUBLICATION_MISSING', `The publication "${publication}" does not exist in the app database. Run \`npm run sync:generate\` and apply the migrations (\`npm run db:migrate\`, or start with \`npm run dev\`).`);
    }
  }
  const inPublication = new Set(published.rows.map((r) => `${r.schemaname}.${r.tablename}`));
  for (const table of tables) {
    const info = await client.query<{ relreplident: string; identity_columns: string[] | null }>(
      `SELECT c.relreplident,
              (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                WHERE i.indrelid = c.oid AND ((c.relreplident = 'i' AND i.indisreplident) OR (c.relreplident = 'd' AND i.indisprimary))) AS identity_columns
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`,
      [table.schema, table.name],
    );
    const row = info.rows[0];
    const name = qualified(table);
    if (!row) throw new ReplicationError('SOURCE_TABLE_MISSING', `The synced table ${name} does not exist in the app database. Apply the migrations, or remove it from sync.config.ts.`);
    if (!inPublication.has(name)) {
      throw new ReplicationError('PUBLICATION_OUTDATED', `The table ${name} is synced but not in the publication "${publication}". Run \`npm run sync:generate\` and apply the migrations.`);
    }
    if (row.relreplident === 'f') continue;
    const identity = row.identity_columns ?? [];
    if (row.relreplident === 'n' || identity.length === 0 || !table.primaryKey.every((c) => identity.includes(c))) {
      throw new ReplicationError(
        'NO_USABLE_KEY',
        `The table ${name} has no replica identity the replicator can match deleted rows by (REPLICA IDENTITY ${({ n: 'NOTHING', d: 'DEFAULT', i: 'USING INDEX' } as Record<string, string>)[row.relreplident] ?? row.relreplident}, identity columns: ${identity.join(', ') || 'none'}, primary key: ${table.primaryKey.join(', ')}). ` +
          `Give it a primary key, or run ALTER TABLE ${name} REPLICA IDENTITY FULL.`,
      );
    }
  }
}

/**
 * The server's current WAL insert position: past the commit of every transaction visible now.
 * Not pg_current_wal_lsn(), the write position: with synchronous_commit=off a commit is visible
 * (and a snapshot may have read its rows) before its WAL is written.
 */
export async function currentLsn(client: pg.Client | pg.Pool): Promise<Lsn> {
  const result = await client.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
  return result.rows[0]!.lsn;
}

export interface CreatedSlot {
  /** A replication connection that must stay open and idle while the snapshot is read. */
  connection: pg.Client;
  consistentPoint: Lsn;
  snapshotName: string;
}

/**
 * Creates the logical replication slot and exports its snapshot: reading the tables in that
 * snapshot and then streaming from the slot sees every change exactly once.
 */
export async function createSlotWithSnapshot(connectionString: string, slot: string): Promise<CreatedSlot> {
  const connection = new pg.Client({ ...sourceClientConfig(connectionString), replication: 'database' } as pg.ClientConfig);
  // Held open while the snapshot is read: should it drop, the exported snapshot goes and the read fails.
  connection.on('error', () => undefined);
  await connection.connect();
  try {
    const result = await connection.query<{ consistent_point: string; snapshot_name: string }>(`CREATE_REPLICATION_SLOT ${quoteIdent(slot)} LOGICAL pgoutput EXPORT_SNAPSHOT`);
    const row = result.rows[0]!;
    return { connection, consistentPoint: row.consistent_point, snapshotName: row.snapshot_name };
  } catch (cause) {
    await connection.end();
    throw new ReplicationError('SLOT_CREATE_FAILED', `Could not create the replication slot ${slot}: ${(cause as Error).message}. Check max_replication_slots and that the user has the REPLICATION attribute.`, { cause });
  }
}

export async function slotExists(client: pg.Client | pg.Pool, slot: string): Promise<boolean> {
  return ((await client.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot])).rowCount ?? 0) > 0;
}

/** Drops a slot, first ending the walsender that may still be streaming from it. */
export async function dropSlot(client: pg.Client | pg.Pool, slot: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    await client.query('SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL', [slot]);
    try {
      await client.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [slot]);
      return;
    } catch (error) {
      // 55006: the slot is still active (the walsender is exiting); try again shortly.
      if ((error as { code?: string }).code !== '55006') throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new ReplicationError('SLOT_DROP_FAILED', `The replication slot ${slot} stayed active; it could not be dropped.`);
}
