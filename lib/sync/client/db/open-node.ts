import sqlite3InitModule, { type Sqlite3Static } from '@sqlite.org/sqlite-wasm';
import { WasmSqlDatabase } from './wasm-database';

let module: Promise<Sqlite3Static> | undefined;

/** sqlite-wasm's Node build, loaded once per process. */
export function loadNodeSqlite(): Promise<Sqlite3Static> {
  module ??= sqlite3InitModule();
  return module;
}

/**
 * An in-memory sqlite-wasm database in Node: the same engine and SQL as the browser's worker, for
 * tests, scripts and benchmarks. sqlite-wasm has no persistent VFS in Node.
 *
 * @example
 *   const db = await openNodeDatabase();
 *   db.all('SELECT sqlite_version() AS v');
 */
export async function openNodeDatabase(): Promise<WasmSqlDatabase> {
  const sqlite3 = await loadNodeSqlite();
  return new WasmSqlDatabase(sqlite3, new sqlite3.oo1.DB(':memory:', 'c'));
}
