import type { Database, PreparedStatement, Sqlite3Static, BindingSpec } from '@sqlite.org/sqlite-wasm';
import { ClientErrorCode, SyncClientError } from '../errors';
import type { SqlDatabase, SqlParams, SqlRow, SqlValue, StatementAccess } from './database';

/** Texts at least this long are bound through bindText (encodeInto); shorter ones through oo1. */
const LONG_TEXT = 1024;
const textEncoder = new TextEncoder();

/** Statements kept prepared; the least recently used beyond this are finalized. */
const STATEMENT_CACHE_SIZE = 256;

// Authorizer action codes (sqlite3.h); stable across SQLite versions.
const SQLITE_DELETE = 9;
const SQLITE_INSERT = 18;
const SQLITE_READ = 20;
const SQLITE_UPDATE = 23;

/**
 * SqlDatabase over a sqlite-wasm oo1 database. The same class runs in the browser worker (OPFS or
 * memory) and in Node (memory): only how the database is opened differs (open-node.ts,
 * open-browser.ts).
 */
export class WasmSqlDatabase implements SqlDatabase {
  private readonly statements = new Map<string, PreparedStatement>();
  private readonly accessCache = new Map<string, StatementAccess>();
  private depth = 0;
  /** Called after each transaction() committed (the browser schedules its WAL checkpoints with it). */
  onCommit: (() => void) | undefined;

  constructor(
    private readonly sqlite3: Sqlite3Static,
    private readonly db: Database,
  ) {}

  /** False once close() ran. */
  get isOpen(): boolean {
    return this.db.isOpen();
  }

  get inTransaction(): boolean {
    return this.depth > 0;
  }

  private statement(sql: string): PreparedStatement {
    let stmt = this.statements.get(sql);
    if (stmt) {
      // Map order is insertion order: re-insert to mark it recently used.
      this.statements.delete(sql);
      this.statements.set(sql, stmt);
      return stmt;
    }
    try {
      stmt = this.db.prepare(sql);
    } catch (error: unknown) {
      throw queryError(sql, error);
    }
    this.statements.set(sql, stmt);
    if (this.statements.size > STATEMENT_CACHE_SIZE) {
      const [oldest, old] = this.statements.entries().next().value as [string, PreparedStatement];
      this.statements.delete(oldest);
      old.finalize();
    }
    return stmt;
  }

  private withStatement<T>(sql: string, params: SqlParams | undefined, fn: (stmt: PreparedStatement) => T): T {
    const stmt = this.statement(sql);
    try {
      if (params !== undefined && (!Array.isArray(params) || params.length > 0)) this.bind(stmt, params);
      return fn(stmt);
    } catch (error: unknown) {
      throw queryError(sql, error);
    } finally {
      stmt.reset(true);
    }
  }

  /**
   * Binds `params`; long texts are written straight into the wasm heap. oo1 binds a string with
   * TextEncoder.encode (a new array, then a copy into the heap), and Chromium's encode() ran at
   * ~30-50 MB/s there: a first sync's page texts (~30 MB for 100k rows) took ~0.8 s to bind,
   * against ~0.15 s with encodeInto (bench/client.ts --trace).
   */
  private bind(stmt: PreparedStatement, params: SqlParams): void {
    if (!Array.isArray(params)) {
      stmt.bind(params as BindingSpec);
      return;
    }
    let long: number[] | undefined;
    for (let i = 0; i < params.length; i++) {
      const value: unknown = params[i];
      if (typeof value === 'string' && value.length >= LONG_TEXT) (long ??= []).push(i);
    }
    if (!long) {
      stmt.bind(params as BindingSpec);
      return;
    }
    const rest = params.slice() as SqlValue[];
    for (const i of long) rest[i] = null;
    stmt.bind(rest as BindingSpec);
    for (const i of long) this.bindText(stmt, i + 1, params[i] as string);
  }

  private bindText(stmt: PreparedStatement, index: number, text: string): void {
    const { wasm, capi } = this.sqlite3;
    // ASCII first (one byte per character); text with other characters is written again with room
    // for the longest encoding (3 bytes per UTF-16 unit).
    let capacity = text.length;
    let ptr = wasm.alloc(capacity + 1);
    let written: number;
    try {
      let result = textEncoder.encodeInto(text, wasm.heap8u().subarray(Number(ptr), Number(ptr) + capacity));
      if (result.read < text.length) {
        wasm.dealloc(ptr);
        ptr = 0;
        capacity = text.length * 3;
        ptr = wasm.alloc(capacity + 1);
        result = textEncoder.encodeInto(text, wasm.heap8u().subarray(Number(ptr), Number(ptr) + capacity));
      }
      written = result.written;
    } catch (error: unknown) {
      if (ptr) wasm.dealloc(ptr);
      throw error;
    }
    // SQLite owns the memory from here (it frees it, also when the bind fails).
    const rc = capi.sqlite3_bind_text(stmt.pointer!, index, ptr, written, capi.SQLITE_WASM_DEALLOC);
    if (rc !== 0) throw new SyncClientError(ClientErrorCode.query, `SQL failed: binding a text of ${written} bytes to parameter ${index} returned ${capi.sqlite3_js_rc_str(rc) ?? rc}`);
  }

  run(sql: string, params?: SqlParams): number {
    return this.withStatement(sql, params, (stmt) => {
      while (stmt.step()) {
        // drain: a statement with RETURNING yields rows that are not wanted here
      }
      return this.sqlite3.capi.sqlite3_changes(this.db);
    });
  }

  script(sql: string): void {
    try {
      this.db.exec(sql);
    } catch (error: unknown) {
      throw queryError(sql, error);
    }
  }

  all<T extends SqlRow = SqlRow>(sql: string, params?: SqlParams): T[] {
    return this.withStatement(sql, params, (stmt) => {
      const rows: T[] = [];
      if (!stmt.step()) return rows;
      // The names once per call: oo1's get({}) asks SQLite for every column's name on every row,
      // which made a 10k-row result ~1.7x slower to read than its values (Node, 8 columns).
      const names = stmt.getColumnNames();
      do rows.push(toObject<T>(names, stmt.get([]) as SqlValue[]));
      while (stmt.step());
      return rows;
    });
  }

  values(sql: string, params?: SqlParams): SqlValue[][] {
    return this.withStatement(sql, params, (stmt) => {
      const rows: SqlValue[][] = [];
      while (stmt.step()) rows.push(stmt.get([]) as SqlValue[]);
      return rows;
    });
  }

  get<T extends SqlRow = SqlRow>(sql: string, params?: SqlParams): T | undefined {
    return this.withStatement(sql, params, (stmt) => (stmt.step() ? toObject<T>(stmt.getColumnNames(), stmt.get([]) as SqlValue[]) : undefined));
  }

  transaction<T>(fn: () => T): T {
    if (this.depth > 0) throw new SyncClientError(ClientErrorCode.query, 'transaction() is not re-entrant: a transaction is already open on this database.');
    this.run('BEGIN IMMEDIATE');
    this.depth++;
    try {
      const result = fn();
      this.run('COMMIT');
      this.onCommit?.();
      return result;
    } catch (error: unknown) {
      if (this.sqlite3.capi.sqlite3_get_autocommit(this.db) === 0) this.run('ROLLBACK');
      throw error;
    } finally {
      this.depth--;
    }
  }

  access(sql: string): StatementAccess {
    const cached = this.accessCache.get(sql);
    if (cached) return cached;
    const reads = new Set<string>();
    const writes = new Set<string>();
    const { capi } = this.sqlite3;
    capi.sqlite3_set_authorizer(
      this.db,
      (_user: number, action: number, first: string | 0) => {
        const table = typeof first === 'string' ? first : null;
        if (table !== null) {
          if (action === SQLITE_READ) reads.add(table);
          else if (action === SQLITE_INSERT || action === SQLITE_UPDATE || action === SQLITE_DELETE) writes.add(table);
        }
        return 0;
      },
      0,
    );
    try {
      this.db.prepare(sql).finalize();
    } catch (error: unknown) {
      throw queryError(sql, error);
    } finally {
      // A null callback removes the authorizer (the typings only allow a function).
      (capi.sqlite3_set_authorizer as unknown as (db: Database, cb: 0, arg: 0) => number)(this.db, 0, 0);
    }
    const access = { reads: [...reads].filter((t) => !t.startsWith('sqlite_')), writes: [...writes].filter((t) => !t.startsWith('sqlite_')) };
    if (this.accessCache.size > STATEMENT_CACHE_SIZE) this.accessCache.clear();
    this.accessCache.set(sql, access);
    return access;
  }

  close(): void {
    for (const stmt of this.statements.values()) stmt.finalize();
    this.statements.clear();
    this.db.close();
  }
}

/** A row as an object keyed by column name; of two columns with the same name the last wins, as with oo1's get({}). */
function toObject<T extends SqlRow>(names: readonly string[], values: readonly SqlValue[]): T {
  const row: SqlRow = {};
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    // A column named __proto__ is a key like any other, never the object's prototype.
    if (name === '__proto__') Object.defineProperty(row, name, { value: values[i], enumerable: true, writable: true, configurable: true });
    else row[name] = values[i]!;
  }
  return row as T;
}

function queryError(sql: string, error: unknown): Error {
  if (error instanceof SyncClientError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new SyncClientError(ClientErrorCode.query, `SQL failed: ${message}`, { cause: error, details: { sql: sql.length > 500 ? `${sql.slice(0, 500)}…` : sql } });
}
