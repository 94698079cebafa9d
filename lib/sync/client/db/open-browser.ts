import type { Sqlite3Static } from '@sqlite.org/sqlite-wasm';
import { ClientErrorCode, SyncClientError } from '../errors';
import type { ClientLogger } from '../log';
import type { StorageKind } from '../status';
import { WasmSqlDatabase } from './wasm-database';

export interface OpenedBrowserDatabase {
  db: WasmSqlDatabase;
  storage: StorageKind;
  /** Why the database is in memory although OPFS was asked for. */
  warning: string | null;
}

/** The pool's VFS name and OPFS directory: one per app origin. */
const VFS_NAME = 'lockstep-sahpool';
const VFS_DIRECTORY = '.lockstep-sahpool';

/**
 * Loads sqlite-wasm from `sqliteBase` (the files scripts/copy-sqlite-wasm.ts puts in public/;
 * bundlers cannot bundle sqlite-wasm, so the import is hidden from them) and opens `dbName` with
 * the opfs-sahpool VFS: persistent, no COOP/COEP headers needed, one connection at a time (the
 * leader tab's worker). Without OPFS it opens an in-memory database and says why.
 *
 * Runs in a dedicated worker only (OPFS sync access handles exist only there).
 */
export async function openBrowserDatabase(options: { sqliteBase: string; dbName: string; storage: 'opfs' | 'memory'; log: ClientLogger }): Promise<OpenedBrowserDatabase> {
  const sqlite3 = await loadSqlite(options.sqliteBase);
  const memory = (warning: string | null): OpenedBrowserDatabase => ({ db: configure(new WasmSqlDatabase(sqlite3, new sqlite3.oo1.DB(':memory:', 'c')), false, options.log), storage: 'memory', warning });
  if (options.storage === 'memory') return memory(null);
  const unsupported = opfsUnsupported();
  if (unsupported) {
    options.log.warn('OPFS is not available: the database is in memory and is lost on reload', { reason: unsupported });
    return memory(unsupported);
  }
  // The previous leader tab's worker may still hold the pool's access handles for a moment.
  const deadline = Date.now() + 10_000;
  for (let attempt = 1; ; attempt++) {
    try {
      const pool = await sqlite3.installOpfsSAHPoolVfs({ name: VFS_NAME, directory: VFS_DIRECTORY, initialCapacity: 6, preserveOnInitFailure: true, forceReinitIfPreviouslyFailed: true } as Parameters<Sqlite3Static['installOpfsSAHPoolVfs']>[0]);
      // Each database takes a slot for itself and one for its journal; keep room for a new one
      // (another user's database on this browser profile) so opening it never fails.
      await pool.reserveMinimumCapacity(Number(pool.getFileCount()) + 4);
      const db = new pool.OpfsSAHPoolDb(`/${options.dbName}.sqlite3`);
      return { db: configure(new WasmSqlDatabase(sqlite3, db), true, options.log), storage: 'opfs-sahpool', warning: null };
    } catch (error: unknown) {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      if (Date.now() > deadline) {
        options.log.error('could not open the OPFS database: using memory (data is lost on reload)', { error: message, attempts: attempt });
        return memory(`OPFS could not be opened: ${message}`);
      }
      options.log.debug('OPFS pool busy, retrying', { error: message, attempt });
      await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 100 * attempt)));
    }
  }
}

/** What sqlite-wasm's init takes: Emscripten's hook to instantiate the wasm module itself. */
type InitOptions = { instantiateWasm(imports: WebAssembly.Imports, done: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void): object };

/**
 * Loads sqlite-wasm. The wasm file is fetched and compiled while the module script is fetched
 * and evaluated (sqlite-wasm alone fetches it only once its script has run), and handed to its
 * init through Emscripten's instantiateWasm hook.
 */
async function loadSqlite(base: string): Promise<Sqlite3Static> {
  const dir = base.replace(/\/?$/, '/');
  const url = new URL(`${dir}index.mjs`, self.location.href).href;
  try {
    const compiled = compileWasm(new URL(`${dir}sqlite3.wasm`, self.location.href).href);
    // Not awaited when the script fails to load first: the failure that counts is that one.
    compiled.catch(() => {});
    const module = (await import(/* webpackIgnore: true */ /* turbopackIgnore: true */ url)) as { default: (options?: InitOptions) => Promise<Sqlite3Static> };
    // The init waits for the hook's instance forever: a wasm file that cannot be fetched, compiled
    // or instantiated fails the load here instead.
    let failed: (error: unknown) => void = () => {};
    const failure = new Promise<never>((_, reject) => (failed = reject));
    const init = module.default({
      instantiateWasm(imports, done) {
        compiled.then((wasm) => WebAssembly.instantiate(wasm, imports).then((instance) => done(instance, wasm))).catch(failed);
        return {};
      },
    });
    return await Promise.race([init, failure]);
  } catch (error: unknown) {
    throw new SyncClientError(ClientErrorCode.sqliteLoad, `Could not load sqlite-wasm from ${url}: ${error instanceof Error ? error.message : String(error)}. Run \`tsx scripts/copy-sqlite-wasm.ts\` (predev/prebuild) so public/sqlite holds its files.`, { cause: error });
  }
}

/** The compiled sqlite3.wasm: streamed when the server says application/wasm, from its bytes otherwise. */
async function compileWasm(url: string): Promise<WebAssembly.Module> {
  const response = await fetch(url, { credentials: 'same-origin' });
  if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
  if (typeof WebAssembly.compileStreaming === 'function' && response.headers.get('content-type')?.split(';')[0]?.trim() === 'application/wasm') return WebAssembly.compileStreaming(response);
  return WebAssembly.compile(await response.arrayBuffer());
}

function opfsUnsupported(): string | null {
  const g = globalThis as { FileSystemHandle?: unknown; FileSystemSyncAccessHandle?: unknown; navigator?: { storage?: { getDirectory?: unknown } } };
  if (typeof g.navigator?.storage?.getDirectory !== 'function') return 'navigator.storage.getDirectory is missing (OPFS not supported, or not a secure context)';
  if (typeof g.FileSystemSyncAccessHandle === 'undefined') return 'FileSystemSyncAccessHandle is missing (OPFS sync access handles need a dedicated worker in a recent browser)';
  return null;
}

/**
 * Settings for a database the sync client writes in large transactions. Measured in Chromium on
 * the SAH pool (bench/client.ts): the cost of a commit is per page written, so 64 KiB pages make a
 * 100k-row insert about 3x faster than 4 KiB ones; page_size only takes effect on a new, empty
 * database. The worker is the only connection, so the lock is exclusive, and that lets SQLite
 * run WAL without shared memory (the SAH pool has none; the WAL index lives in the worker's
 * heap). WAL takes a local write (a few pages: the row, the upload queue's entry and ops) from
 * ~5.5 to ~2.5 ms on a real profile: a rollback journal writes each page's old copy when the page
 * is first changed and syncs twice per commit, WAL appends the new copies once. With
 * synchronous = NORMAL a commit is not synced (a checkpoint is): a crash of the tab or the
 * browser loses nothing committed, a power cut or OS crash may lose the last commits, never the
 * database's consistency. That is the durability IndexedDB gives by default in Chromium
 * ('relaxed'). Should the VFS refuse WAL, the journal stays a persistent rollback journal.
 */
function configure(db: WasmSqlDatabase, persistent: boolean, log: ClientLogger): WasmSqlDatabase {
  if (!persistent) {
    db.script('PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;');
    return db;
  }
  // The exclusive lock first: a WAL database read before it would need shared memory.
  db.script('PRAGMA locking_mode = EXCLUSIVE; PRAGMA page_size = 65536; PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY; PRAGMA synchronous = NORMAL;');
  const mode = db.get<{ journal_mode: string }>('PRAGMA journal_mode = WAL')?.journal_mode;
  if (mode !== 'wal') {
    db.script('PRAGMA journal_mode = PERSIST;');
    return db;
  }
  checkpointWhenIdle(db, log);
  return db;
}

/** Quiet time after the last commit before the WAL is checkpointed. */
const CHECKPOINT_IDLE_MS = 500;

/**
 * SQLite checkpoints the WAL itself once it holds 1,000 pages, in the commit that crosses that:
 * with 64 KiB pages that copy (and its syncs) took ~160 ms, inside one local write every ~100
 * writes. The checkpoint is run instead once commits pause for CHECKPOINT_IDLE_MS, so a burst of
 * writes never waits for it; the automatic one stays as the bound for writes that never pause.
 */
function checkpointWhenIdle(db: WasmSqlDatabase, log: ClientLogger): void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const checkpoint = () => {
    timer = undefined;
    if (!db.isOpen) return;
    try {
      db.get('PRAGMA wal_checkpoint(PASSIVE)');
    } catch (error: unknown) {
      // Nothing is lost: the WAL keeps every commit, and the automatic checkpoint remains.
      log.warn('WAL checkpoint failed; SQLite checkpoints on its own later', { error: error instanceof Error ? error.message : String(error) });
    }
  };
  db.onCommit = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(checkpoint, CHECKPOINT_IDLE_MS);
  };
}
