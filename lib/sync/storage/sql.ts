import type pg from 'pg';
import { StorageErrorCode, storageError } from './errors';

/** pg returns int8 as a string; op ids, counts and checksums all fit in a double exactly. */
export function int8(value: string | number | null | undefined): number {
  return value === null || value === undefined ? 0 : Number(value);
}

const LSN = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/;

/** Throws STORAGE_LSN_INVALID unless `lsn` looks like a Postgres LSN ('16/B374D848'). */
export function assertLsn(lsn: string): string {
  if (!LSN.test(lsn)) throw storageError(StorageErrorCode.lsnInvalid, `"${lsn}" is not a Postgres LSN; expected two hex numbers separated by a slash, such as "0/16B3748".`);
  return lsn;
}

/** An LSN as one 64-bit number, for comparing in JS (pg_lsn compares the same way in SQL). */
export function lsnToBigInt(lsn: string): bigint {
  const [hi, lo] = assertLsn(lsn).split('/') as [string, string];
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}

/**
 * Runs `fn` in a transaction on a client of its own. On any error the transaction is rolled back
 * and the error rethrown; a client whose connection broke is destroyed rather than reused.
 */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query(begin);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error: unknown) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackError: unknown) {
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    }
    throw error;
  } finally {
    client.release(broken);
  }
}
