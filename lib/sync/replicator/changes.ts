import type { BatchOp, CurrentRow, CurrentRowUpsert, ParameterUpsert, RowKey } from '@/lib/sync/storage';
import { decodePlacement, encodePlacement } from './placements';
import { rowHash, toastableValues, type ColumnTypes } from './row-state';

/** A source row in Postgres text format; undefined marks an unchanged TOAST value. */
export type SourceRow = Record<string, string | null | undefined>;

/** A row change decoded from pgoutput (or read by the snapshot, as an insert). */
export type SourceChange =
  | { kind: 'insert'; table: string; row: SourceRow; types?: ColumnTypes }
  /** `old` is the old key ('K', when the key changed) or the whole old row (REPLICA IDENTITY FULL). */
  | { kind: 'update'; table: string; old: SourceRow | null; row: SourceRow; types?: ColumnTypes }
  | { kind: 'delete'; table: string; old: SourceRow }
  /** TRUNCATE: every row of the table leaves every bucket. */
  | { kind: 'truncate'; table: string };

/** What the change planner needs of the compiled sync rules. */
export interface RowRules {
  rowId(table: string, row: SourceRow): string;
  evaluateRow(table: string, row: SourceRow): ReadonlyArray<{ bucket: string; table: string; data: string }>;
  evaluateParameterRow(table: string, row: SourceRow): ReadonlyArray<{ lookup: string; values: string[] }>;
  isDataTable(table: string): boolean;
  isParameterTable(table: string): boolean;
}

export type CurrentRowLoader = (table: string, rowIds: string[]) => Promise<Map<string, CurrentRow>>;

/** Pages through every stored row of a table (for TRUNCATE). */
export type CurrentRowLister = (table: string, afterRowId: string | null, limit: number) => Promise<Array<{ rowId: string } & CurrentRow>>;

/**
 * A row as the planner knows it: as loaded from storage, or as a change of this batch (or of the
 * batch before, still committing) left it: `complete`, with all its values, the column types that
 * decide which of them storage keeps, the hash of the values once computed (`hash`), and the hash
 * storage holds or will hold for it (`valuesHash`).
 *
 * What storage holds of a row (CurrentRow): its buckets, and
 * - a hash of all its values, and only the values TOAST may withhold: rows that a change may be
 *   replayed onto, those of a snapshot resumed after a crash and those written before the first
 *   checkpoint (while streaming replays changes since the slot was created);
 * - no hash (''), and those values: every other row. A change to such a row is always a change;
 *   its row is rewritten only when its buckets or kept values change;
 * - all of its values, no hash (undefined): rows written before migration 0003.
 */
type KnownRow = CurrentRow & { types?: ColumnTypes | undefined; complete?: true; hash?: string };

/** The rows a batch changed, as it left them: what the next batch starts from while this one commits. */
export type RowOverlay = ReadonlyMap<string, KnownRow | null>;

/**
 * Turns source row changes into bucket ops, current-row and parameter-index updates, in order.
 * Rows touched are loaded from bucket storage once per call (one query per table); later changes
 * to the same row in the batch see the earlier ones through an overlay, and so does the next
 * batch (`after`) while this one is still committing. Replaying a change that storage already
 * reflects (a snapshot resumed after a crash already read it) emits nothing: `hashRows` is on until
 * the first checkpoint, which is as long as changes can be replayed onto rows (see KnownRow).
 */
export class ChangePlanner {
  readonly ops: BatchOp[] = [];
  private readonly rows = new Map<string, KnownRow | null>();
  /** Keys of the rows this batch changed, the only ones it may write back, with what storage had of each before. */
  private readonly dirty = new Map<string, KnownRow | null>();
  private updates: ReturnType<ChangePlanner['storageUpdates']> | undefined;
  private readonly params = new Map<string, ParameterUpsert[] | null>();
  /** Parameter tables truncated in this batch: all their index entries go. */
  readonly truncatedParameterTables = new Set<string>();

  constructor(
    private readonly rules: RowRules,
    private readonly load: CurrentRowLoader,
    private readonly list: CurrentRowLister = async () => [],
    /** The rows the previous batch changed, when it may not be committed yet. */
    after?: RowOverlay,
    /** Store a hash with every row written (until the first checkpoint). */
    private readonly hashRows = true,
  ) {
    if (after) for (const [key, row] of after) this.rows.set(key, row);
  }

  /** Plans `changes` (one or more whole source transactions, in commit order). */
  async add(changes: readonly SourceChange[]): Promise<void> {
    if (this.updates) throw new Error('ChangePlanner: changes added after storageUpdates()');
    await this.preload(changes);
    for (const change of changes) {
      if (change.kind === 'truncate') await this.truncate(change.table);
      else this.apply(change);
    }
  }

  get size(): number {
    return this.ops.length + this.dirty.size;
  }

  /** The rows this batch changed, with all their values, for the next batch to plan against. */
  overlay(): RowOverlay {
    this.storageUpdates(); // settles each row's valuesHash: what storage will hold
    const changed = new Map<string, KnownRow | null>();
    for (const key of this.dirty.keys()) changed.set(key, this.rows.get(key) ?? null);
    return changed;
  }

  /** The current-row and parameter updates of the batch. Call once every change is added. */
  storageUpdates(): {
    currentRows: { upsert: CurrentRowUpsert[]; insert: CurrentRowUpsert[]; delete: RowKey[] };
    parameters: { upsert: ParameterUpsert[]; delete: Array<{ sourceTable: string; sourceRowId: string }>; deleteTables?: string[] };
  } {
    if (this.updates) return this.updates;
    const upsert: CurrentRowUpsert[] = [];
    const insert: CurrentRowUpsert[] = [];
    const remove: RowKey[] = [];
    for (const [key, before] of this.dirty) {
      const row = this.rows.get(key);
      if (!row) {
        if (before) remove.push(splitKey(key)); // else added and deleted within the batch: storage never had it
        continue;
      }
      const values = toastableValues(row.values, row.types);
      if (!this.hashRows && before && unchangedInStorage(before, row.buckets, values)) {
        row.valuesHash = '';
        continue;
      }
      row.valuesHash = this.hashRows ? (row.hash ??= rowHash(row.values)) : '';
      // A row storage did not have is inserted: no stored row to look for.
      const { table, rowId } = splitKey(key);
      (before ? upsert : insert).push({ table, rowId, buckets: row.buckets, values, valuesHash: row.valuesHash });
    }
    const paramUpsert: ParameterUpsert[] = [];
    const paramDelete: Array<{ sourceTable: string; sourceRowId: string }> = [];
    for (const [key, entries] of this.params) {
      const { table, rowId } = splitKey(key);
      // Every entry of the source row is replaced: delete, then upsert what it yields now.
      paramDelete.push({ sourceTable: table, sourceRowId: rowId });
      if (entries) paramUpsert.push(...entries);
    }
    const parameters = { upsert: paramUpsert, delete: paramDelete, ...(this.truncatedParameterTables.size > 0 ? { deleteTables: [...this.truncatedParameterTables] } : {}) };
    this.updates = { currentRows: { upsert, insert, delete: remove }, parameters };
    return this.updates;
  }

  private async preload(changes: readonly SourceChange[]): Promise<void> {
    const wanted = new Map<string, Set<string>>();
    for (const change of changes) {
      if (change.kind === 'truncate' || !this.rules.isDataTable(change.table)) continue;
      let ids = wanted.get(change.table);
      if (!ids) wanted.set(change.table, (ids = new Set<string>()));
      for (const id of this.idsOf(change)) if (!this.rows.has(rowKey(change.table, id))) ids.add(id);
    }
    for (const [table, ids] of wanted) {
      if (ids.size === 0) continue;
      const found = await this.load(table, [...ids]);
      for (const id of ids) this.rows.set(rowKey(table, id), found.get(id) ?? null);
    }
  }

  private idsOf(change: Exclude<SourceChange, { kind: 'truncate' }>): string[] {
    if (change.kind === 'delete') return [this.rules.rowId(change.table, change.old)];
    const id = this.rules.rowId(change.table, change.row);
    if (change.kind === 'update' && change.old) {
      const oldId = this.rules.rowId(change.table, { ...change.row, ...change.old });
      if (oldId !== id) return [oldId, id];
    }
    return [id];
  }

  private apply(change: Exclude<SourceChange, { kind: 'truncate' }>): void {
    const { table } = change;
    if (change.kind === 'delete') {
      this.remove(table, this.rules.rowId(table, change.old));
      return;
    }
    const id = this.rules.rowId(table, change.row);
    if (change.kind === 'update' && change.old) {
      const oldId = this.rules.rowId(table, { ...change.row, ...change.old });
      if (oldId !== id) this.remove(table, oldId);
    }
    this.upsert(table, id, change.row, change.types);
  }

  private upsert(table: string, id: string, incoming: SourceRow, types: ColumnTypes | undefined): void {
    const key = rowKey(table, id);
    if (this.rules.isParameterTable(table)) this.params.set(key, parameterEntries(this.rules, table, id, incoming));
    if (!this.rules.isDataTable(table)) return;

    const current = this.rows.get(key) ?? null;
    const values = fillToast(table, id, incoming, current);
    const placed = this.rules.evaluateRow(table, values);
    const placements = placed.map(encodePlacement);
    let hash: string | undefined;
    if (current && sameSet(current.buckets, placements)) {
      if (current.complete || current.valuesHash === undefined) {
        if (sameValues(current.values, values)) return;
      } else if (current.valuesHash !== '' && (hash = rowHash(values)) === current.valuesHash) return;
    }

    for (const p of placed) this.ops.push({ bucket: p.bucket, op: 'PUT', table: p.table, rowId: id, data: p.data });
    if (current) {
      const now = new Set(placements);
      for (const old of current.buckets) if (!now.has(old)) this.pushRemove(old, id);
    }
    this.markDirty(key, current);
    this.rows.set(key, { buckets: placements, values, types, complete: true, ...(hash === undefined ? {} : { hash }) });
  }

  private remove(table: string, id: string): void {
    if (this.rules.isParameterTable(table)) this.params.set(rowKey(table, id), null);
    if (!this.rules.isDataTable(table)) return;
    const key = rowKey(table, id);
    const current = this.rows.get(key) ?? null;
    for (const old of current?.buckets ?? []) this.pushRemove(old, id);
    this.markDirty(key, current);
    this.rows.set(key, null);
  }

  private async truncate(table: string): Promise<void> {
    if (this.rules.isParameterTable(table)) {
      this.truncatedParameterTables.add(table);
      for (const key of this.params.keys()) if (splitKey(key).table === table) this.params.delete(key);
    }
    if (!this.rules.isDataTable(table)) return;
    // Rows stored before this batch, then rows this batch (or the one before) added before the TRUNCATE.
    for (let after: string | null = null; ; ) {
      const page = await this.list(table, after, 1000);
      for (const row of page) {
        const key = rowKey(table, row.rowId);
        if (!this.rows.has(key)) this.rows.set(key, row);
      }
      if (page.length < 1000) break;
      after = page[page.length - 1]!.rowId;
    }
    for (const [key, row] of this.rows) {
      if (!row || splitKey(key).table !== table) continue;
      this.remove(table, splitKey(key).rowId);
    }
  }

  private markDirty(key: string, before: KnownRow | null): void {
    if (!this.dirty.has(key)) this.dirty.set(key, before);
  }

  private pushRemove(encoded: string, rowId: string): void {
    const { bucket, table } = decodePlacement(encoded);
    this.ops.push({ bucket, op: 'REMOVE', table, rowId, data: null });
  }
}

/** The parameter-index entries a source row yields: one per lookup, with every tuple it gives there. */
export function parameterEntries(rules: RowRules, table: string, id: string, row: SourceRow): ParameterUpsert[] {
  const byLookup = new Map<string, string[][]>();
  for (const entry of rules.evaluateParameterRow(table, row)) {
    const list = byLookup.get(entry.lookup);
    if (list) list.push(entry.values);
    else byLookup.set(entry.lookup, [entry.values]);
  }
  return [...byLookup].map(([lookup, values]) => ({ lookup, sourceTable: table, sourceRowId: id, values }));
}

/** Unchanged TOAST values (undefined) are taken from the stored row; a row we never stored cannot have them. */
function fillToast(table: string, id: string, row: SourceRow, current: KnownRow | null): Record<string, string | null> {
  let toasted = false;
  for (const column in row) {
    if (row[column] === undefined) {
      toasted = true;
      break;
    }
  }
  if (!toasted) return row as Record<string, string | null>;
  const out: Record<string, string | null> = {};
  for (const [column, value] of Object.entries(row)) {
    if (value !== undefined) {
      out[column] = value;
      continue;
    }
    const stored = current?.values[column];
    if (stored === undefined) {
      throw new Error(`${table} row ${id}: column ${column} arrived as an unchanged TOAST value, but bucket storage has no copy of the row. Set REPLICA IDENTITY FULL on ${table}, or resnapshot.`);
    }
    out[column] = stored;
  }
  return out;
}

/**
 * Storage already holds a row with these buckets and kept values, and no hash (which a rewrite
 * would have to update): writing it again would change nothing.
 */
function unchangedInStorage(before: KnownRow, buckets: string[], kept: Record<string, string | null>): boolean {
  if (before.valuesHash !== '' || !sameSet(before.buckets, buckets)) return false;
  return sameValues(before.complete ? toastableValues(before.values, before.types) : before.values, kept);
}

function sameValues(a: Record<string, string | null>, b: Record<string, string | null>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const k of keys) if (a[k] !== b[k]) return false;
  return true;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  if (a.length === 1) return a[0] === b[0];
  const set = new Set(a);
  return b.every((x) => set.has(x));
}

const KEY_SEPARATOR = '\u0000';
function rowKey(table: string, id: string): string {
  return `${table}${KEY_SEPARATOR}${id}`;
}
function splitKey(key: string): RowKey {
  const at = key.indexOf(KEY_SEPARATOR);
  return { table: key.slice(0, at), rowId: key.slice(at + 1) };
}
