import type { BatchOp, CurrentRow, CurrentRowUpsert, ParameterUpsert, RowKey } from '@/lib/sync/storage';
import { decodePlacement, encodePlacement } from './placements';

/** A source row in Postgres text format; undefined marks an unchanged TOAST value. */
export type SourceRow = Record<string, string | null | undefined>;

/** A row change decoded from pgoutput (or read by the snapshot, as an insert). */
export type SourceChange =
  | { kind: 'insert'; table: string; row: SourceRow }
  /** `old` is the old key ('K', when the key changed) or the whole old row (REPLICA IDENTITY FULL). */
  | { kind: 'update'; table: string; old: SourceRow | null; row: SourceRow }
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
 * Turns source row changes into bucket ops, current-row and parameter-index updates, in order.
 * Rows touched are loaded from bucket storage once per call (one query per table); later changes
 * to the same row in the batch see the earlier ones through an overlay. Replaying a change that
 * storage already reflects (after a crash, or a snapshot that already saw it) emits nothing.
 */
export class ChangePlanner {
  readonly ops: BatchOp[] = [];
  private readonly rows = new Map<string, CurrentRow | null>();
  private readonly params = new Map<string, ParameterUpsert[] | null>();
  /** Parameter tables truncated in this batch: all their index entries go. */
  readonly truncatedParameterTables = new Set<string>();

  constructor(
    private readonly rules: RowRules,
    private readonly load: CurrentRowLoader,
    private readonly list: CurrentRowLister = async () => [],
  ) {}

  /** Plans `changes` (one or more whole source transactions, in commit order). */
  async add(changes: readonly SourceChange[]): Promise<void> {
    await this.preload(changes);
    for (const change of changes) {
      if (change.kind === 'truncate') await this.truncate(change.table);
      else this.apply(change);
    }
  }

  get size(): number {
    return this.ops.length + this.rows.size;
  }

  /** The current-row and parameter updates accumulated so far. */
  storageUpdates(): {
    currentRows: { upsert: CurrentRowUpsert[]; delete: RowKey[] };
    parameters: { upsert: ParameterUpsert[]; delete: Array<{ sourceTable: string; sourceRowId: string }> };
  } {
    const upsert: CurrentRowUpsert[] = [];
    const remove: RowKey[] = [];
    for (const [key, row] of this.rows) {
      const { table, rowId } = splitKey(key);
      if (row) upsert.push({ table, rowId, buckets: row.buckets, values: row.values });
      else remove.push({ table, rowId });
    }
    const paramUpsert: ParameterUpsert[] = [];
    const paramDelete: Array<{ sourceTable: string; sourceRowId: string }> = [];
    for (const [key, entries] of this.params) {
      const { table, rowId } = splitKey(key);
      // Every entry of the source row is replaced: delete, then upsert what it yields now.
      paramDelete.push({ sourceTable: table, sourceRowId: rowId });
      if (entries) paramUpsert.push(...entries);
    }
    return { currentRows: { upsert, delete: remove }, parameters: { upsert: paramUpsert, delete: paramDelete } };
  }

  private async preload(changes: readonly SourceChange[]): Promise<void> {
    const wanted = new Map<string, Set<string>>();
    for (const change of changes) {
      if (change.kind === 'truncate' || !this.rules.isDataTable(change.table)) continue;
      const ids = wanted.get(change.table) ?? new Set<string>();
      wanted.set(change.table, ids);
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
    this.upsert(table, id, change.row);
  }

  private upsert(table: string, id: string, incoming: SourceRow): void {
    const key = rowKey(table, id);
    if (this.rules.isParameterTable(table)) this.setParameters(table, id, incoming);
    if (!this.rules.isDataTable(table)) return;

    const current = this.rows.get(key) ?? null;
    const values = fillToast(table, id, incoming, current);
    const placed = this.rules.evaluateRow(table, values);
    const placements = placed.map(encodePlacement);
    if (current && sameValues(current.values, values) && sameSet(current.buckets, placements)) return;

    for (const p of placed) this.ops.push({ bucket: p.bucket, op: 'PUT', table: p.table, rowId: id, data: p.data });
    const now = new Set(placements);
    for (const old of current?.buckets ?? []) {
      if (!now.has(old)) this.pushRemove(old, id);
    }
    this.rows.set(key, { buckets: placements, values });
  }

  private remove(table: string, id: string): void {
    if (this.rules.isParameterTable(table)) this.params.set(rowKey(table, id), null);
    if (!this.rules.isDataTable(table)) return;
    const key = rowKey(table, id);
    const current = this.rows.get(key) ?? null;
    for (const old of current?.buckets ?? []) this.pushRemove(old, id);
    this.rows.set(key, null);
  }

  private async truncate(table: string): Promise<void> {
    if (this.rules.isParameterTable(table)) {
      this.truncatedParameterTables.add(table);
      for (const key of this.params.keys()) if (splitKey(key).table === table) this.params.delete(key);
    }
    if (!this.rules.isDataTable(table)) return;
    // Rows stored before this batch, then rows this batch added before the TRUNCATE.
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

  private pushRemove(encoded: string, rowId: string): void {
    const { bucket, table } = decodePlacement(encoded);
    this.ops.push({ bucket, op: 'REMOVE', table, rowId, data: null });
  }

  private setParameters(table: string, id: string, row: SourceRow): void {
    const byLookup = new Map<string, string[][]>();
    for (const entry of this.rules.evaluateParameterRow(table, row)) {
      const list = byLookup.get(entry.lookup) ?? [];
      list.push(entry.values);
      byLookup.set(entry.lookup, list);
    }
    this.params.set(
      rowKey(table, id),
      [...byLookup].map(([lookup, values]) => ({ lookup, sourceTable: table, sourceRowId: id, values })),
    );
  }
}

/** Unchanged TOAST values (undefined) are taken from the stored row; a row we never stored cannot have them. */
function fillToast(table: string, id: string, row: SourceRow, current: CurrentRow | null): Record<string, string | null> {
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

function sameValues(a: Record<string, string | null>, b: Record<string, string | null>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const k of keys) if (a[k] !== b[k]) return false;
  return true;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
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
