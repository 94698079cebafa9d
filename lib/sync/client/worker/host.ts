import { LocalSyncClient } from '../client';
import { SyncCore, type ExecuteResult } from '../core';
import type { SqlParams } from '../db/database';
import { openBrowserDatabase } from '../db/open-browser';
import { serializeError } from '../errors';
import { consoleLogger } from '../log';
import { fetchSyncToken } from '../sync/token';
import type { CallMessage, WorkerInit, WorkerReply } from './messages';

/** The parts of a dedicated worker's global scope the host uses. */
export interface WorkerScope {
  postMessage(message: WorkerReply): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<WorkerInit | CallMessage>) => void): void;
}

/** Writes made for another tab are remembered this long, so a retry after a leader change is not applied twice. */
const REQUEST_MEMORY_MS = 60 * 60 * 1000;

/**
 * The database worker: opens sqlite-wasm (OPFS, or memory), runs the sync core, and answers the
 * leader tab's calls (its own and those it forwards for other tabs). Calls that arrive before
 * the database is open wait for it.
 */
export function serveDatabaseWorker(scope: WorkerScope): void {
  let core: SyncCore | undefined;
  let client: LocalSyncClient | undefined;
  const waiting: CallMessage[] = [];

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
    if (message.kind === 'init') {
      void start(message).then(
        (opened) => {
          core = opened;
          client = new LocalSyncClient(opened);
          opened.onStatus((status) => scope.postMessage({ kind: 'status', status }));
          opened.onTablesChanged((tables) => scope.postMessage({ kind: 'tables', tables }));
          opened.start();
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

async function start(init: WorkerInit): Promise<SyncCore> {
  const log = consoleLogger(init.logLevel);
  const opened = await openBrowserDatabase({ sqliteBase: init.sqliteBase, dbName: init.dbName, storage: init.storage, log });
  log.info('local database open', { storage: opened.storage, dbName: init.dbName });
  return SyncCore.open({ db: opened.db, schema: init.schema, baseUrl: init.baseUrl, fetchToken: fetchSyncToken(init.baseUrl), log, storage: { kind: opened.storage, warning: opened.warning } });
}

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
      return call.key === undefined ? core.execute(sql, params) : executeOnce(core, call.key, sql, params);
  }
}

/** execute(), applied once per key: the result is stored in the same transaction as the write. */
function executeOnce(core: SyncCore, key: string, sql: string, params: SqlParams | undefined): ExecuteResult {
  const { db } = core;
  const done = db.get<{ result: string }>('SELECT result FROM ls_requests WHERE key = ?', [key]);
  if (done) return JSON.parse(done.result) as ExecuteResult;
  return db.transaction(() => {
    const result = core.execute(sql, params);
    const now = Date.now();
    db.run('INSERT INTO ls_requests (key, result, at) VALUES (?, ?, ?)', [key, JSON.stringify(result), now]);
    db.run('DELETE FROM ls_requests WHERE at < ?', [now - REQUEST_MEMORY_MS]);
    return result;
  });
}
