import type { ClientSchema } from '@/lib/sync/config';
import type { SqlDatabase } from '../db/database';
import type { ClientLogger } from '../log';
import { convertRowDataToJsonb } from './data-format';
import { ensureHolderColumns, migrateRowHolders } from './holders';
import { ensureLayout } from './layout';
import { getMeta, setMeta } from './meta';
import { resetBucket } from './oplog';
import { applyClientSchema } from './views';

/** What the store knows about the last applied checkpoint. */
export interface AppliedState {
  /** Op id of the last applied checkpoint; null before the first. */
  appliedOpId: string | null;
  writeCheckpoint: string | null;
  /** The rules version the stored bucket positions belong to. */
  rulesVersion: string | null;
  /** When the last checkpoint was applied (ms since the epoch). */
  lastSyncedAt: number | null;
}

/**
 * The opened local database: the client's tables exist, the client schema's views are in place,
 * and the client has an id. One per database; the sync core and the query API share it.
 */
export class LocalStore {
  readonly clientId: string;
  readonly schemaTables: readonly string[];

  private constructor(
    readonly db: SqlDatabase,
    readonly schema: ClientSchema,
  ) {
    this.schemaTables = schema.tables.map((t) => t.name);
    let id = getMeta(db, 'client_id');
    if (!id) {
      id = newClientId();
      setMeta(db, 'client_id', id);
    }
    this.clientId = id;
  }

  /**
   * Prepares `db` for `schema` (see storage/layout.ts and storage/views.ts), in one transaction:
   * all or nothing, so an open that fails part way (a bad schema, a full disk) leaves the
   * database as it was instead of half laid out.
   */
  static open(db: SqlDatabase, schema: ClientSchema, log?: ClientLogger): LocalStore {
    const { store, before } = db.transaction(() => {
      ensureLayout(db);
      ensureHolderColumns(db);
      migrateRowHolders(db, resetBucket);
      const before = getMeta(db, 'schema_version');
      applyClientSchema(db, schema);
      // Stores the client schema just made have id and data only.
      ensureHolderColumns(db);
      convertRowDataToJsonb(db);
      return { store: new LocalStore(db, schema), before };
    });
    if (before !== null && before !== schema.version) log?.info('client schema changed: views recreated', { from: before, to: schema.version });
    return store;
  }

  applied(): AppliedState {
    const at = getMeta(this.db, 'last_synced_at');
    return {
      appliedOpId: getMeta(this.db, 'applied_op_id'),
      writeCheckpoint: getMeta(this.db, 'write_checkpoint'),
      rulesVersion: getMeta(this.db, 'rules_version'),
      lastSyncedAt: at === null ? null : Number(at),
    };
  }
}

function newClientId(): string {
  const c = globalThis.crypto;
  // randomUUID needs a secure context in browsers; getRandomValues does not.
  if (typeof c.randomUUID === 'function') return c.randomUUID();
  const bytes = c.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}
