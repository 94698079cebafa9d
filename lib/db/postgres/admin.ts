import pg from 'pg';
import { SetupError } from '@/lib/sync/errors';

/** The same server and credentials as `url`, but another database. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

export function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!name) throw new SetupError('DATABASE_URL_INVALID', `The connection URL ${redact(url)} names no database.`);
  return name;
}

/** A URL with its password hidden, for messages and logs. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable URL>';
  }
}

export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
  } catch (cause) {
    throw new SetupError('DATABASE_UNREACHABLE', `Cannot connect to ${redact(url)}: ${(cause as Error).message}`, { cause });
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates the database named in `url` when it does not exist, connecting to the server's `postgres` database. */
export async function ensureDatabase(url: string): Promise<'created' | 'exists'> {
  const name = databaseName(url);
  return withClient(withDatabase(url, 'postgres'), async (client) => {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return 'exists';
    try {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
    } catch (cause) {
      // Two processes racing to create it is fine.
      if ((cause as { code?: string }).code === '42P04') return 'exists';
      throw new SetupError('DATABASE_CREATE_FAILED', `Cannot create database "${name}" on ${redact(url)}: ${(cause as Error).message}`, { cause });
    }
    return 'created';
  });
}

/** Drops the database named in `url` (and its inactive replication slots); true when it existed. */
export async function dropDatabase(url: string): Promise<boolean> {
  const name = databaseName(url);
  return withClient(withDatabase(url, 'postgres'), async (client) => {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!found.rowCount) return false;
    await client.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active', [name]);
    await client.query(`DROP DATABASE ${client.escapeIdentifier(name)} WITH (FORCE)`);
    return true;
  });
}

/**
 * Logical replication needs wal_level=logical. A server without it is refused with the setting
 * and the fix named, because the replicator would otherwise fail later with a vaguer error.
 */
export async function assertLogicalReplication(url: string): Promise<void> {
  const level = await withClient(url, async (client) => (await client.query<{ wal_level: string }>('SHOW wal_level')).rows[0]?.wal_level);
  if (level !== 'logical') {
    throw new SetupError(
      'WAL_LEVEL_NOT_LOGICAL',
      `The Postgres server at ${redact(url)} has wal_level=${level ?? 'unknown'}, but Lockstep needs wal_level=logical for logical replication. ` +
        `Fix: run "ALTER SYSTEM SET wal_level = logical;" as a superuser (or set wal_level = logical in postgresql.conf) and restart Postgres. ` +
        `On a managed service, enable its logical replication option. Or unset DATABASE_URL to use the embedded Postgres.`,
      { details: { setting: 'wal_level', value: level } },
    );
  }
}
