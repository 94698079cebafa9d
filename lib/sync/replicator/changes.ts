import type { BatchOp, CurrentRow, CurrentRowUpsert, ParameterUpsert, RowKey } from '@/lib/sync/storage';
import { decodePlacement, encodePlacement } from './placements';
import { rowHash, toastableValues, type ColumnTypes } from './row-state';

/**
 * From this many changes in one add(), INSERTs are not looked up (insertsAreNew): a batch that
 * large commits with COPY anyway, while a small one, which commits in one round trip, pays one
 * look-up for it.
 */
export const SKIP_INSERT_LOOKUPS_FROM = 200;

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

/** Rows by table, then by row id: row ids are used as they came (no key strings built, hashed once). */
type RowMaps<T> = Map<string, Map<string, T>>;

/** The rows a batch changed, as it left them: what the next batch starts from while this one commits. */
export type RowOverlay = ReadonlyMap<string, ReadonlyMap<string, KnownRow | null>>;

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
  /** What is known of each row: null when storage does not have it. */
  private readonly rows: RowMaps<KnownRow | null> = new Map();
  /** Keys of the rows this batch changed, the only ones it may write back, with what storage had of each before. */
  private readonly dirty: RowMaps<KnownRow | null> = new Map();
  private updates: ReturnType<ChangePlanner['storageUpdates']> | undefined;
  private readonly params: RowMaps<ParameterUpsert[] | null> = new Map();
  /** Parameter tables truncated in this batch: all their index entries go. */
  readonly truncatedParameterTables = new Set<string>();
  private dirtyCount = 0;
  /** Some row was taken as new without a look-up (insertsAreNew): commit with COPY, so that it is inserted, never upserted. */
  newRowsAssumed = false;
  /** The overlays of the batches still committing, oldest first: read through, never copied. */
  private readonly after: readonly RowOverlay[];
  private lastPlacement = { bucket: '', table: '', encoded: '' };

  constructor(
    private readonly rules: RowRules,
    private readonly load: CurrentRowLoader,
    private readonly list: CurrentRowLister = async () => [],
    /** The rows the previous batches changed (oldest first), when they may not be committed yet. */
    after?: RowOverlay | readonly RowOverlay[],
    /** Store a hash with every row written (until the first checkpoint). */
    private readonly hashRows = true,
    /**
     * An INSERT's row is new to storage, so it is not looked up. True of every change after the
     * first checkpoint (`hashRows` off): storage and the batches before hold the source's rows as
     * of the change before, and the source had no row with that key then. Taken only by an add()
     * of at least SKIP_INSERT_LOOKUPS_FROM changes without TRUNCATE (its rows are looked up before
     * any change is applied). A row taken as new is inserted, never upserted (`newRowsAssumed`: the
     * caller commits with COPY, which fails if storage holds it after all), and the streamer turns
     * this off for good when that happens (a table renamed away and back).
     */
    private readonly insertsAreNew = false,
  ) {
    this.after = after === undefined ? [] : isOverlayList(after) ? after : [after];
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
    return this.ops.length + this.dirtyCount;
  }

  /** The rows this batch changed, with all their values, for the next batch to plan against. */
  overlay(): RowOverlay {
    this.storageUpdates(); // settles each row's valuesHash: what storage will hold
    const changed = new Map<string, Map<string, KnownRow | null>>();
    for (const [table, dirty] of this.dirty) {
      const rows = this.rows.get(table)!;
      const out = new Map<string, KnownRow | null>();
      for (const id of dirty.keys()) out.set(id, rows.get(id) ?? null);
      changed.set(table, out);
    }
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
    for (const [table, dirty] of this.dirty) {
      const rows = this.rows.get(table)!;
      for (const [rowId, before] of dirty) {
        const row = rows.get(rowId);
        if (!row) {
          if (before) remove.push({ table, rowId }); // else added and deleted within the batch: storage never had it
          continue;
        }
        const values = toastableValues(row.values, row.types);
        if (!this.hashRows && before && unchangedInStorage(before, row.buckets, values)) {
          row.valuesHash = '';
          continue;
        }
        row.valuesHash = this.hashRows ? (row.hash ??= rowHash(row.values)) : '';
        // A row storage did not have is inserted: no stored row to look for.
        (before ? upsert : insert).push({ table, rowId, buckets: row.buckets, values, valuesHash: row.valuesHash });
      }
    }
    const paramUpsert: ParameterUpsert[] = [];
    const paramDelete: Array<{ sourceTable: string; sourceRowId: string }> = [];
    for (const [table, entriesById] of this.params) {
      for (const [rowId, entries] of entriesById) {
        // Every entry of the source row is replaced: delete, then upsert what it yields now.
        paramDelete.push({ sourceTable: table, sourceRowId: rowId });
        if (entries) paramUpsert.push(...entries);
      }
    }
    const parameters = { upsert: paramUpsert, delete: paramDelete, ...(this.truncatedParameterTables.size > 0 ? { deleteTables: [...this.truncatedParameterTables] } : {}) };
    this.updates = { currentRows: { upsert, insert, delete: remove }, parameters };
    return this.updates;
  }

  private async preload(changes: readonly SourceChange[]): Promise<void> {
    const skipInserts = this.insertsAreNew && !this.hashRows && changes.length >= SKIP_INSERT_LOOKUPS_FROM && !changes.some((c) => c.kind === 'truncate');
    const wanted = new Map<string, string[]>();
    let lastTable: string | undefined;
    let known: Map<string, KnownRow | null> | undefined;
    let ids: string[] | undefined;
    for (const change of changes) {
      if (change.kind === 'truncate') continue;
      if (change.table !== lastTable) {
        lastTable = change.table;
        if (!this.rules.isDataTable(change.table)) {
          known = undefined;
          continue;
        }
        known = tableMap(this.rows, change.table);
        ids = wanted.get(change.table);
        if (!ids) wanted.set(change.table, (ids = []));
      }
      if (!known) continue;
      // Marked null ("storage does not have it") until the load says otherwise: asked for once.
      // A row a batch still committing changed is as that batch left it: not asked for.
      const id = this.idOf(change);
      if (!known.has(id)) {
        const prior = this.prior(change.table, id);
        known.set(id, prior ?? null);
        if (prior === undefined) {
          if (skipInserts && change.kind === 'insert') this.newRowsAssumed = true;
          else ids!.push(id);
        }
      }
      if (change.kind === 'update' && change.old) {
        const oldId = this.rules.rowId(change.table, { ...change.row, ...change.old });
        if (oldId !== id && !known.has(oldId)) {
          const prior = this.prior(change.table, oldId);
          known.set(oldId, prior ?? null);
          if (prior === undefined) ids!.push(oldId);
        }
      }
    }
    for (const [table, list] of wanted) {
      if (list.length === 0) continue;
      const found = await this.load(table, list);
      const known = this.rows.get(table)!;
      for (const [id, row] of found) known.set(id, row);
    }
  }

  /** The row as the latest batch still committing left it, or undefined when none of them changed it. */
  private prior(table: string, id: string): KnownRow | null | undefined {
    for (let i = this.after.length - 1; i >= 0; i--) {
      const row = this.after[i]!.get(table)?.get(id);
      if (row !== undefined) return row;
    }
    return undefined;
  }

  private idOf(change: Exclude<SourceChange, { kind: 'truncate' }>): string {
    return this.rules.rowId(change.table, change.kind === 'delete' ? change.old : change.row);
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
    if (this.rules.isParameterTable(table)) tableMap(this.params, table).set(id, parameterEntries(this.rules, table, id, incoming));
    if (!this.rules.isDataTable(table)) return;

    const rows = tableMap(this.rows, table);
    const current = rows.get(id) ?? null;
    const values = fillToast(table, id, incoming, current);
    const placed = this.rules.evaluateRow(table, values);
    const placements = this.placementsOf(placed);
    let hash: string | undefined;
    if (current && sameSet(current.buckets, placements)) {
      if (current.complete || current.valuesHash === undefined) {
        if (sameValues(current.values, values)) return;
      } else if (current.valuesHash !== '' && (hash = rowHash(values)) === current.valuesHash) return;
    }

    for (const p of placed) this.ops.push({ bucket: p.bucket, op: 'PUT', table: p.table, rowId: id, data: p.data });
    if (current) for (const old of current.buckets) if (!placements.includes(old)) this.pushRemove(old, id);
    this.markDirty(table, id, current);
    rows.set(id, hash === undefined ? { buckets: placements, values, types, complete: true } : { buckets: placements, values, types, complete: true, hash });
  }

  /**
   * The placements of an evaluated row. Rows of a batch mostly land where the row before did (the
   * todos of one list): the last placement's string is reused rather than concatenated again,
   * which also spares comparing a fresh (unflattened) string with the stored one.
   */
  private placementsOf(placed: ReadonlyArray<{ bucket: string; table: string }>): string[] {
    const out = new Array<string>(placed.length);
    for (let i = 0; i < placed.length; i++) {
      const p = placed[i]!;
      let last = this.lastPlacement;
      if (p.bucket !== last.bucket || p.table !== last.table) this.lastPlacement = last = { bucket: p.bucket, table: p.table, encoded: encodePlacement(p) };
      out[i] = last.encoded;
    }
    return out;
  }

  private remove(table: string, id: string): void {
    if (this.rules.isParameterTable(table)) tableMap(this.params, table).set(id, null);
    if (!this.rules.isDataTable(table)) return;
    const rows = tableMap(this.rows, table);
    const current = rows.get(id) ?? null;
    for (const old of current?.buckets ?? []) this.pushRemove(old, id);
    this.markDirty(table, id, current);
    rows.set(id, null);
  }

  private async truncate(table: string): Promise<void> {
    if (this.rules.isParameterTable(table)) {
      this.truncatedParameterTables.add(table);
      this.params.delete(table);
    }
    if (!this.rules.isDataTable(table)) return;
    // Rows stored before this batch, then rows this batch (or the ones before) added before the TRUNCATE.
    const rows = tableMap(this.rows, table);
    const prior = new Map<string, KnownRow | null>();
    for (const overlay of this.after) for (const [id, row] of overlay.get(table) ?? []) prior.set(id, row);
    for (const [id, row] of prior) if (!rows.has(id)) rows.set(id, row);
    for (let after: string | null = null; ; ) {
      const page = await this.list(table, after, 1000);
      for (const row of page) if (!rows.has(row.rowId)) rows.set(row.rowId, row);
      if (page.length < 1000) break;
      after = page[page.length - 1]!.rowId;
    }
    for (const [id, row] of [...rows]) if (row) this.remove(table, id);
  }

  private markDirty(table: string, id: string, before: KnownRow | null): void {
    const dirty = tableMap(this.dirty, table);
    if (dirty.has(id)) return;
    dirty.set(id, before);
    this.dirtyCount++;
  }

  private pushRemove(encoded: string, rowId: string): void {
    const { bucket, table } = decodePlacement(encoded);
    this.ops.push({ bucket, op: 'REMOVE', table, rowId, data: null });
  }
}

function isOverlayList(after: RowOverlay | readonly RowOverlay[]): after is readonly RowOverlay[] {
  return Array.isArray(after);
}

function tableMap<T>(maps: RowMaps<T>, table: string): Map<string, T> {
  let map = maps.get(table);
  if (!map) maps.set(table, (map = new Map()));
  return map;
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
