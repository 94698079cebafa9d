import { assertLsn, int8 } from './sql';
import type { Queryable } from './types';

/**
 * Write checkpoints. After an upload is committed to the app database, the server records the
 * source LSN at that moment; once the replicator has checkpointed past that LSN, the client's
 * write is in its downloaded data and it may drop its optimistic state.
 */

/** Write checkpoints kept per (user, client); older ones can never be the answer again. */
export const WRITE_CHECKPOINT_HISTORY = 16;

/**
 * Records that this client's writes are committed at source `lsn`; returns the write checkpoint
 * id, which increases with every call. Keeps only the newest WRITE_CHECKPOINT_HISTORY per client:
 * a few are kept (not just the latest) so writeCheckpointFor can still acknowledge an older write
 * whose LSN is reached while a newer one is pending.
 *
 * @example
 *   const id = await createWriteCheckpoint(pool, session.userId, clientId, currentWalLsn);
 */
export async function createWriteCheckpoint(db: Queryable, userId: string, clientId: string, lsn: string): Promise<number> {
  const { rows } = await db.query<{ id: string }>(
    {
      name: 'lockstep_create_write_checkpoint',
      text: `WITH created AS (
               INSERT INTO lockstep.write_checkpoints (user_id, client_id, lsn) VALUES ($1, $2, $3::pg_lsn) RETURNING id
             ), pruned AS (
               DELETE FROM lockstep.write_checkpoints w
                WHERE w.user_id = $1 AND w.client_id = $2
                  AND w.id < (SELECT k.id FROM lockstep.write_checkpoints k WHERE k.user_id = $1 AND k.client_id = $2
                               ORDER BY k.id DESC OFFSET $4 - 2 LIMIT 1)
             )
             SELECT id FROM created`,
      values: [userId, clientId, assertLsn(lsn), WRITE_CHECKPOINT_HISTORY],
    },
  );
  return int8(rows[0]!.id);
}

/**
 * The highest write checkpoint id of this client whose LSN is at or before `uptoLsn` (the LSN of
 * the checkpoint being sent), or null when none is. LSNs are compared as pg_lsn, numerically.
 */
export async function writeCheckpointFor(db: Queryable, userId: string, clientId: string, uptoLsn: string): Promise<number | null> {
  const { rows } = await db.query<{ id: string | null }>(
    {
      name: 'lockstep_write_checkpoint_for',
      text: 'SELECT max(id) AS id FROM lockstep.write_checkpoints WHERE user_id = $1 AND client_id = $2 AND lsn <= $3::pg_lsn',
      values: [userId, clientId, assertLsn(uptoLsn)],
    },
  );
  return rows[0]?.id == null ? null : int8(rows[0].id);
}
