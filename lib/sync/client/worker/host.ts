import type { UploadRequest, UploadResult } from '@/lib/sync/protocol';
import { LocalSyncClient } from '../client';
import { SyncCore, type ExecuteResult, type SqlStatement, type SyncCoreOptions } from '../core';
import type { SqlParams } from '../db/database';
import { openBrowserDatabase } from '../db/open-browser';
import { serializeError } from '../errors';
import { consoleLogger, epochMs } from '../log';
import { fetchSyncToken, type SyncToken, type TokenFetcher } from '../sync/token';
import type { CallMessage, OnlineNotice, UploadAnswer, WorkerInit, WorkerReply } from './messages';

/** The parts of a dedicated worker's global scope the host uses. */
export interface WorkerScope {
  postMessage(message: WorkerReply): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<WorkerInit | CallMessage | UploadAnswer | OnlineNotice>) => void): void;
}

/** Writes made for another tab are remembered this long, so a retry after a leader change is not applied twice. */
const REQUEST_MEMORY_MS = 60 * 60 * 1000;

/**
 * The database worker: opens sqlite-wasm (OPFS, or memory), runs the sync core, and answers the
 * leader tab's calls (its own and those it forwards for other tabs). Calls that arrive before
 * the database is open wait for it.
 */
export function serveDatabaseWorker(scope: WorkerScope): void {
  startedAt.worker = epochMs();
  let core: SyncCore | undefined;
  let client: LocalSyncClient | undefined;
  const waiting: CallMessage[] = [];
  // Uploads go through the leader tab: a server action is called from a page, not a worker.
  let uploadId = 0;
  const uploads = new Map<number, (result: UploadResult) => void>();
  const upload = (request: UploadRequest) =>
    new Promise<UploadResult>((resolve) => {
      const id = ++uploadId;
      uploads.set(id, resolve);
      scope.postMessage({ kind: 'upload', id, request });
    });

  const answer = (call: CallMessage) => {
    try {
      const value = dispatch(core!, client!, call);
      scope.postMessage({ kind: 'result', id: call.id, value });
    } catch (error: unknown) {
      scope.postMessage({ kind: 'error', id: call.id, error: serializeError(error) });
    }
  };

  scope.addEventListener('message', (event) => {
    const message = event.data;
    if (message.kind === 'uploaded') {
      uploads.get(message.id)?.(message.result);
      uploads.delete(message.id);
      return;
    }
    if (message.kind === 'online') {
      // A worker does not always hear 'online' itself (e.g. network emulation): the tab tells it.
      core?.engine.reconnect();
      core?.uploads.poke();
      return;
    }
    if (message.kind === 'init') {
      startedAt.init = epochMs();
      void start(message, message.upload ? upload : undefined, (rejected) => scope.postMessage({ kind: 'rejected', rejected })).then(
        (opened) => {
          core = opened;
          client = new LocalSyncClient(opened);
          opened.onStatus((status) => scope.postMessage({ kind: 'status', status }));
          opened.onTablesChanged((tables) => scope.postMessage({ kind: 'tables', tables }));
          opened.start();
          // Back online: connect now instead of waiting out the backoff.
          (globalThis as { addEventListener?: (type: string, listener: () => void) => void }).addEventListener?.('online', () => {
            opened.engine.reconnect();
            opened.uploads.poke();
          });
          scope.postMessage({ kind: 'ready', status: opened.status });
          for (const call of waiting.splice(0)) answer(call);
        },
        (error: unknown) => scope.postMessage({ kind: 'failed', error: serializeError(error) }),
      );
      return;
    }
    if (!core) waiting.push(message);
    else answer(message);
  });
}

async function start(init: WorkerInit, upload: ((request: UploadRequest) => Promise<UploadResult>) | undefined, onUploadRejected: SyncCoreOptions['onUploadRejected']): Promise<SyncCore> {
  const log = consoleLogger(init.logLevel);
  // The first token is asked for at once, while sqlite-wasm loads and the database opens (it needs
  // neither); the engine's first call takes it, later calls fetch anew.
  const fetchToken = fetchSyncToken(init.baseUrl);
  let first: Promise<SyncToken> | undefined = fetchToken();
  first.catch(() => {});
  const tokens: TokenFetcher = () => {
    const token = first ?? fetchToken();
    first = undefined;
    return token;
  };
  const opened = await openBrowserDatabase({ sqliteBase: init.sqliteBase, dbName: init.dbName, storage: init.storage, log });
  startedAt.database = epochMs();
  log.info('local database open', { storage: opened.storage, dbName: init.dbName });
  const core = SyncCore.open({ db: opened.db, schema: init.schema, baseUrl: init.baseUrl, fetchToken: tokens, log, ...(upload ? { upload } : {}), ...(onUploadRejected ? { onUploadRejected } : {}), storage: { kind: opened.storage, warning: opened.warning } });
  startedAt.core = epochMs();
  log.debug('database worker started (wall-clock ms)', { ...startedAt });
  return core;
}

/** When the worker's script ran, the init arrived, the database and the sync core opened (for the debug log). */
const startedAt: Record<string, number> = {};

function dispatch(core: SyncCore, _client: LocalSyncClient, call: CallMessage): unknown {
  const [sql, params] = call.args as [string, SqlParams | undefined];
  switch (call.method) {
    case 'query':
      return core.query(sql, params);
    case 'queryValues':
      return core.queryValues(sql, params);
    case 'tablesReadBy':
      return core.tablesReadBy(sql);
    case 'status':
      return core.status;
    case 'execute':
      return writeOnce(core, call.key, () => core.execute(sql, params));
    case 'executeBatch':
      return writeOnce(core, call.key, () => core.executeBatch(call.args[0] as SqlStatement[]));
    case 'rejectedWrites':
      return core.rejectedWrites();
    case 'dismissRejected':
      return core.dismissRejected(call.args[0] as string[] | undefined);
  }
}

/** Expired request keys are swept at most this often (a scan of ls_requests, not on every write). */
const REQUEST_SWEEP_MS = 60 * 1000;
let lastSweep = 0;

/** A write, applied once per key: the result is stored in the same transaction as the write. */
function writeOnce(core: SyncCore, key: string | undefined, write: () => ExecuteResult): ExecuteResult {
  const { db } = core;
  // In a transaction of its own all the same: the write then tells of the tables it changed before
  // its commit, so the live queries' re-runs are already waiting when the commit ends.
  if (key === undefined) return db.transaction(write);
  const done = db.get<{ result: string }>('SELECT result FROM ls_requests WHERE key = ?', [key]);
  if (done) return JSON.parse(done.result) as ExecuteResult;
  return db.transaction(() => {
    const result = write();
    const now = Date.now();
    db.run('INSERT INTO ls_requests (key, result, at) VALUES (?, ?, ?)', [key, JSON.stringify(result), now]);
    if (now - lastSweep >= REQUEST_SWEEP_MS) {
      db.run('DELETE FROM ls_requests WHERE at < ?', [now - REQUEST_MEMORY_MS]);
      lastSweep = now;
    }
    return result;
  });
}
