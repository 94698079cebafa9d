import type { ClientSchema } from '@/lib/sync/config';
import type { SerializedError } from '../errors';
import type { UploadRequest, UploadResult } from '@/lib/sync/protocol';
import type { LogLevel } from '../log';
import type { RejectedWrite } from '../writes/queue-store';
import type { SyncStatus } from '../status';

/**
 * Messages between a tab and the database worker, and between tabs (BroadcastChannel). All are
 * structured-cloneable plain data.
 */

/** The calls the worker answers (each is a SyncClient method of the same name). */
export type CallMethod = 'query' | 'queryValues' | 'execute' | 'executeBatch' | 'rejectedWrites' | 'dismissRejected' | 'tablesReadBy' | 'status';

export interface WorkerInit {
  kind: 'init';
  schema: ClientSchema;
  /** Database file name in OPFS. */
  dbName: string;
  /** Where the sqlite-wasm files are served (scripts/copy-sqlite-wasm.ts), e.g. '/sqlite/'. */
  sqliteBase: string;
  /** Origin of the sync endpoints; '' for the page's own. */
  baseUrl: string;
  /** 'memory' forces an in-memory database (tests); 'opfs' (default) falls back to memory when OPFS is unavailable. */
  storage: 'opfs' | 'memory';
  logLevel: LogLevel;
  /** The leader tab can upload (it was given an upload function): the worker's upload loop asks it through `upload` messages. */
  upload: boolean;
}

/** The leader tab saw the network come back: reconnect and upload now, skipping backoff waits. */
export interface OnlineNotice {
  kind: 'online';
}

/** The leader tab's answer to an `upload` request of the worker. */
export interface UploadAnswer {
  kind: 'uploaded';
  id: number;
  result: UploadResult;
}

export interface CallMessage {
  kind: 'call';
  id: number;
  method: CallMethod;
  args: unknown[];
  /** Identifies a write across retries: the worker applies a write with the same key once. */
  key?: string;
}

export type WorkerReply =
  | { kind: 'result'; id: number; value: unknown }
  | { kind: 'error'; id: number; error: SerializedError }
  | { kind: 'ready'; status: SyncStatus }
  | { kind: 'failed'; error: SerializedError }
  | { kind: 'status'; status: SyncStatus }
  | { kind: 'tables'; tables: string[] }
  /** The upload loop asks the leader tab to send one transaction (server actions run from a page). */
  | { kind: 'upload'; id: number; request: UploadRequest }
  | { kind: 'rejected'; rejected: RejectedWrite };

/** Between tabs. `from`/`to` are tab ids. */
export type TabMessage =
  | { kind: 'leader'; from: string }
  | { kind: 'call'; from: string; call: CallMessage }
  | { kind: 'result'; to: string; id: number; value: unknown }
  | { kind: 'error'; to: string; id: number; error: SerializedError }
  | { kind: 'status'; status: SyncStatus }
  | { kind: 'tables'; tables: string[] };
