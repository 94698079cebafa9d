import type pg from 'pg';
import { StorageErrorCode, storageError } from './errors';
import { assertLsn, int8, withTransaction } from './sql';
import type { Queryable, RulesVersion, RulesVersionState, SnapshotProgress } from './types';

/**
 * Rules versions: one per compiled sync rules. A new version is 'building' (its snapshot runs in
 * the background while the 'active' one keeps serving), then activated atomically, which retires
 * the previous one; a retired version's data is deleted with deleteRulesVersion.
 */

interface RulesVersionRow {
  id: number;
  version_hash: string;
  state: RulesVersionState;
  slot_name: string;
  snapshot_progress: SnapshotProgress;
  last_lsn: string | null;
  last_op_id: string;
  created_at: Date;
  activated_at: Date | null;
  retired_at: Date | null;
}

const COLUMNS = 'id, version_hash, state, slot_name, snapshot_progress, last_lsn::text AS last_lsn, last_op_id, created_at, activated_at, retired_at';

function toRulesVersion(row: RulesVersionRow): RulesVersion {
  return {
    id: row.id,
    versionHash: row.version_hash,
    state: row.state,
    slotName: row.slot_name,
    snapshotProgress: row.snapshot_progress,
    lastLsn: row.last_lsn,
    lastOpId: int8(row.last_op_id),
    createdAt: row.created_at,
    activatedAt: row.activated_at,
    retiredAt: row.retired_at,
  };
}

function notFound(id: number): Error {
  return storageError(StorageErrorCode.rulesVersionNotFound, `Rules version ${id} does not exist in bucket storage (deleted, or never created).`, { details: { rulesId: id } });
}

/**
 * Creates a version in state 'building', with empty snapshot progress and no ops. Throws
 * STORAGE_RULES_VERSION_CONFLICT while another version is building.
 *
 * @example
 *   const version = await createRulesVersion(pool, { versionHash: compiled.hash, slotName: `lockstep_${compiled.hash.slice(0, 8)}` });
 */
export async function createRulesVersion(db: Queryable, input: { versionHash: string; slotName: string }): Promise<RulesVersion> {
  try {
    const { rows } = await db.query<RulesVersionRow>(`INSERT INTO lockstep.rules_versions (version_hash, slot_name) VALUES ($1, $2) RETURNING ${COLUMNS}`, [input.versionHash, input.slotName]);
    return toRulesVersion(rows[0]!);
  } catch (cause: unknown) {
    if ((cause as { constraint?: string }).constraint === 'rules_versions_one_building') {
      throw storageError(StorageErrorCode.rulesVersionConflict, 'Another rules version is already being built. Retire it (retireRulesVersion) before building a new one.', { cause });
    }
    throw cause;
  }
}

/** A version by id, or null when there is none. */
export async function getRulesVersion(db: Queryable, id: number): Promise<RulesVersion | null> {
  const { rows } = await db.query<RulesVersionRow>(`SELECT ${COLUMNS} FROM lockstep.rules_versions WHERE id = $1`, [id]);
  return rows[0] ? toRulesVersion(rows[0]) : null;
}

/** The newest version in `state` ('active': the one serving clients; 'building': the one being snapshotted), or null. */
export async function rulesVersionInState(db: Queryable, state: RulesVersionState): Promise<RulesVersion | null> {
  const { rows } = await db.query<RulesVersionRow>(`SELECT ${COLUMNS} FROM lockstep.rules_versions WHERE state = $1 ORDER BY id DESC LIMIT 1`, [state]);
  return rows[0] ? toRulesVersion(rows[0]) : null;
}

/** Every version, oldest first (for status output). */
export async function listRulesVersions(db: Queryable): Promise<RulesVersion[]> {
  const { rows } = await db.query<RulesVersionRow>(`SELECT ${COLUMNS} FROM lockstep.rules_versions ORDER BY id`);
  return rows.map(toRulesVersion);
}

/** Makes `id` the active version and retires the previous one, in one transaction. */
export async function activateRulesVersion(pool: pg.Pool, id: number): Promise<RulesVersion> {
  return withTransaction(pool, async (client) => {
    // Lock every live version first, so two activations cannot interleave their two updates.
    const { rows } = await client.query<{ id: number; state: RulesVersionState }>("SELECT id, state FROM lockstep.rules_versions WHERE id = $1 OR state = 'active' ORDER BY id FOR UPDATE", [id]);
    const target = rows.find((r) => r.id === id);
    if (!target) throw notFound(id);
    if (target.state === 'retired') {
      throw storageError(StorageErrorCode.rulesVersionState, `Rules version ${id} is retired and cannot be activated again; create a new version instead.`, { details: { rulesId: id } });
    }
    await client.query("UPDATE lockstep.rules_versions SET state = 'retired', retired_at = now() WHERE state = 'active' AND id <> $1", [id]);
    const updated = await client.query<RulesVersionRow>(
      `UPDATE lockstep.rules_versions SET state = 'active', activated_at = COALESCE(activated_at, now()) WHERE id = $1 RETURNING ${COLUMNS}`,
      [id],
    );
    return toRulesVersion(updated.rows[0]!);
  });
}

/** Marks a version retired; commitBatch refuses it from then on. Its data stays until deleteRulesVersion. */
export async function retireRulesVersion(db: Queryable, id: number): Promise<void> {
  const { rowCount } = await db.query("UPDATE lockstep.rules_versions SET state = 'retired', retired_at = COALESCE(retired_at, now()) WHERE id = $1", [id]);
  if (!rowCount) throw notFound(id);
}

/**
 * Deletes a version and all of its data. Refused for the active version. Each table is emptied
 * in its own statement and the version row goes last, so an interrupted delete can be re-run.
 */
export async function deleteRulesVersion(db: Queryable, id: number): Promise<void> {
  const version = await getRulesVersion(db, id);
  if (!version) return;
  if (version.state === 'active') {
    throw storageError(StorageErrorCode.rulesVersionState, `Rules version ${id} is active; activate another version (which retires this one) before deleting it.`, { details: { rulesId: id } });
  }
  for (const table of ['ops', 'bucket_state', 'checkpoints', 'current_rows', 'parameter_index']) {
    await db.query(`DELETE FROM lockstep.${table} WHERE rules_id = $1`, [id]);
  }
  await db.query('DELETE FROM lockstep.rules_versions WHERE id = $1', [id]);
}

/** Saves snapshot progress on its own (commitBatch's `snapshotProgress` saves it atomically with a batch). */
export async function updateSnapshotProgress(db: Queryable, id: number, progress: SnapshotProgress): Promise<void> {
  const { rowCount } = await db.query('UPDATE lockstep.rules_versions SET snapshot_progress = $2 WHERE id = $1', [id, JSON.stringify(progress)]);
  if (!rowCount) throw notFound(id);
}

/** The source LSN of the last batch committed: where the replicator resumes after a restart. */
export async function getLastLsn(db: Queryable, id: number): Promise<string | null> {
  const { rows } = await db.query<{ last_lsn: string | null }>('SELECT last_lsn::text AS last_lsn FROM lockstep.rules_versions WHERE id = $1', [id]);
  if (!rows[0]) throw notFound(id);
  return rows[0].last_lsn;
}

/**
 * Sets the version's last LSN outright, e.g. to the slot's consistent point before a snapshot.
 * Unlike commitBatch it does not refuse an LSN lower than the current one.
 */
export async function setLastLsn(db: Queryable, id: number, lsn: string): Promise<void> {
  const { rowCount } = await db.query('UPDATE lockstep.rules_versions SET last_lsn = $2::pg_lsn WHERE id = $1', [id, assertLsn(lsn)]);
  if (!rowCount) throw notFound(id);
}

export { notFound as rulesVersionNotFound };
