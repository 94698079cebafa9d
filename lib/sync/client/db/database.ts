/**
 * The local SQLite database as the sync core uses it: synchronous calls (sqlite-wasm runs in the
 * same thread as the core, in a worker or in Node), prepared statements cached by SQL text.
 */

/** A value SQLite stores or returns. Integers beyond 2^53 come back as bigint. */
export type SqlValue = string | number | bigint | null | Uint8Array;

/** Positional (`?`) or named (`:name`, `$name`) parameters. */
export type SqlParams = readonly SqlValue[] | Readonly<Record<string, SqlValue>>;

export type SqlRow = Record<string, SqlValue>;

/** The tables a statement reads and writes, as SQLite's authorizer reports them at prepare time. */
export interface StatementAccess {
  /** Tables and views read; a view's underlying tables are listed too. */
  reads: string[];
  /** Tables written, including writes made by triggers. */
  writes: string[];
}

export interface SqlDatabase {
  /** Runs one statement; returns the number of rows it changed. */
  run(sql: string, params?: SqlParams): number;
  /** Runs a script of statements without parameters. */
  script(sql: string): void;
  /** Rows as objects keyed by column name. */
  all<T extends SqlRow = SqlRow>(sql: string, params?: SqlParams): T[];
  /** Rows as arrays, in column order (what drizzle's sqlite-proxy driver wants). */
  values(sql: string, params?: SqlParams): SqlValue[][];
  /** The first row, or undefined. */
  get<T extends SqlRow = SqlRow>(sql: string, params?: SqlParams): T | undefined;
  /** Runs `fn` in one transaction (BEGIN IMMEDIATE … COMMIT, ROLLBACK on a throw). Not re-entrant. */
  transaction<T>(fn: () => T): T;
  /** True inside transaction(). */
  readonly inTransaction: boolean;
  /** What a statement reads and writes; cached per SQL text. */
  access(sql: string): StatementAccess;
  close(): void;
}

/** Runs `fn` in the transaction already open on `db`, or in a new one. */
export function inTransaction<T>(db: SqlDatabase, fn: () => T): T {
  return db.inTransaction ? fn() : db.transaction(fn);
}
