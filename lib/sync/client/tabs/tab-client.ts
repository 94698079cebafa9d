import type { ClientSchema } from '@/lib/sync/config';
import type { SyncClient } from '../client';
import type { ExecuteResult, SqlStatement } from '../core';
import type { RejectedWrite } from '../writes/queue-store';
import type { UploadFunction } from '../writes/upload-loop';
import type { SqlParams, SqlRow, SqlValue } from '../db/database';
import { ClientErrorCode, deserializeError, SyncClientError, type SerializedError } from '../errors';
import type { LogLevel } from '../log';
import type { SyncStatus } from '../status';
import type { UploadResult } from '@/lib/sync/protocol';
import type { CallMessage, CallMethod, OnlineNotice, TabMessage, UploadAnswer, WorkerInit, WorkerReply } from '../worker/messages';
import { spawnDatabaseWorker } from '../worker/spawn';

export interface BrowserSyncClientOptions {
  schema: ClientSchema;
  /** Name of the database (OPFS file, Web Lock and BroadcastChannel names). Default 'lockstep'. */
  dbName?: string;
  /** Where scripts/copy-sqlite-wasm.ts put the sqlite-wasm files. Default '/sqlite/'. */
  sqliteBase?: string;
  /** Origin of the sync endpoints. Default: this page's. */
  baseUrl?: string;
  /** 'memory' keeps the database in memory (tests). Default 'opfs'. */
  storage?: 'opfs' | 'memory';
  logLevel?: LogLevel;
  /**
   * Sends one local transaction to the server: the app's upload server action
   * (`uploadTransaction` in app/actions/upload.ts). Without it, local writes stay queued.
   */
  upload?: UploadFunction;
  /** Called in the leader tab when the server rejected a local transaction (docs/writes.md#rejections). */
  onUploadRejected?(rejected: RejectedWrite): void;
  /** Starts the database worker (override for tests or custom bundling). */
  createWorker?: () => Worker;
}

interface Pending {
  call: CallMessage;
  resolve(value: unknown): void;
  reject(error: Error): void;
  /** A write: it gets a key when it is sent to another tab (send). */
  write: boolean;
}

/**
 * The sync client of one browser tab. Exactly one tab of a database is the leader (a Web Lock):
 * it runs the database worker, which holds the OPFS database and the sync connection. The other
 * tabs send their calls over a BroadcastChannel to the leader, which answers them, and every tab
 * hears status and changed tables on the same channel. When the leader tab closes, the lock
 * passes to another tab, which starts the worker; calls in flight are sent again (writes carry a
 * key, so one applied before the old leader went away is not applied twice).
 *
 * @example
 *   const client = new BrowserSyncClient({ schema: clientSchema });
 *   const rows = await client.query('SELECT * FROM todos WHERE completed = 0');
 */
export class BrowserSyncClient implements SyncClient {
  readonly tabId: string;
  private readonly channel: BroadcastChannel | null;
  private readonly dbName: string;
  private worker: Worker | undefined;
  private workerReady = false;
  private leader = false;
  private closed = false;
  private releaseLock: (() => void) | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Worker call id → the tab and call id it answers (calls forwarded for other tabs). */
  private readonly forwarded = new Map<number, { tab: string; id: number }>();
  /** Calls of other tabs that arrived before the worker was ready. */
  private readonly queued: CallMessage[] = [];
  private readonly tableListeners = new Set<(tables: string[]) => void>();
  private readonly statusListeners = new Set<(status: SyncStatus) => void>();
  private readonly leaderListeners = new Set<(leader: boolean) => void>();
  private lastStatus: SyncStatus | null = null;
  private failure: SerializedError | null = null;

  constructor(private readonly options: BrowserSyncClientOptions) {
    this.dbName = options.dbName ?? 'lockstep';
    this.tabId = randomId();
    this.channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(`lockstep:${this.dbName}`) : null;
    this.channel?.addEventListener('message', (event: MessageEvent<TabMessage>) => this.onTabMessage(event.data));
    this.elect();
    void this.call('status', []).then((status) => this.setStatus(status as SyncStatus), () => {});
  }

  /** True while this tab holds the database and the sync connection. */
  get isLeader(): boolean {
    return this.leader;
  }

  get status(): SyncStatus | null {
    return this.lastStatus;
  }

  query<T extends SqlRow = SqlRow>(sql: string, params?: SqlParams): Promise<T[]> {
    return this.call('query', [sql, params]) as Promise<T[]>;
  }

  queryValues(sql: string, params?: SqlParams): Promise<SqlValue[][]> {
    return this.call('queryValues', [sql, params]) as Promise<SqlValue[][]>;
  }

  execute(sql: string, params?: SqlParams): Promise<ExecuteResult> {
    return this.call('execute', [sql, params], true) as Promise<ExecuteResult>;
  }

  executeBatch(statements: readonly SqlStatement[]): Promise<ExecuteResult> {
    return this.call('executeBatch', [statements], true) as Promise<ExecuteResult>;
  }

  rejectedWrites(): Promise<RejectedWrite[]> {
    return this.call('rejectedWrites', []) as Promise<RejectedWrite[]>;
  }

  dismissRejected(ids?: readonly string[]): Promise<number> {
    return this.call('dismissRejected', [ids]) as Promise<number>;
  }

  tablesReadBy(sql: string): Promise<string[]> {
    return this.call('tablesReadBy', [sql]) as Promise<string[]>;
  }

  onTablesChanged(listener: (tables: string[]) => void): () => void {
    this.tableListeners.add(listener);
    return () => this.tableListeners.delete(listener);
  }

  onStatus(listener: (status: SyncStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  /** Called when this tab becomes (or stops being) the leader. */
  onLeaderChange(listener: (leader: boolean) => void): () => void {
    this.leaderListeners.add(listener);
    return () => this.leaderListeners.delete(listener);
  }

  /** Stops this tab's part: a leader ends its worker and hands the lock on. Pending calls fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) p.reject(new SyncClientError(ClientErrorCode.closed, 'The sync client was closed.'));
    this.pending.clear();
    this.worker?.terminate();
    this.worker = undefined;
    globalThis.removeEventListener?.('online', this.onOnline);
    this.releaseLock?.();
    this.channel?.close();
  }

  // ── calls ───────────────────────────────────────────────────────────────────────────────────

  private call(method: CallMethod, args: unknown[], write = false): Promise<unknown> {
    if (this.closed) return Promise.reject(new SyncClientError(ClientErrorCode.closed, 'The sync client was closed.'));
    if (this.failure) return Promise.reject(deserializeError(this.failure));
    const id = this.nextId++;
    const call: CallMessage = { kind: 'call', id, method, args: args.filter((a, i) => a !== undefined || i === 0) };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { call, resolve, reject, write });
      this.send(call);
    });
  }

  private send(call: CallMessage): void {
    if (this.leader) {
      if (this.workerReady) this.worker!.postMessage(call);
      // Otherwise it is sent when the worker is ready (startWorker).
      return;
    }
    // A write that leaves this tab may reach a leader that goes away before answering, and then be
    // sent again to the next one: its key lets the worker apply it once. The leader's own writes go
    // straight to its worker, once (pending calls die with the tab), so they need no key, and skip
    // the worker's ls_requests lookup and insert (a page less in each commit).
    if (this.pending.get(call.id)?.write) call.key ??= `${this.tabId}:${call.id}`;
    this.channel?.postMessage({ kind: 'call', from: this.tabId, call } satisfies TabMessage);
  }

  private settle(id: number, error: SerializedError | null, value: unknown): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    if (error) pending.reject(deserializeError(error));
    else pending.resolve(value);
  }

  // ── leadership ──────────────────────────────────────────────────────────────────────────────

  private elect(): void {
    const locks = (globalThis.navigator as Navigator | undefined)?.locks;
    if (!locks || !this.channel) {
      // No Web Locks or BroadcastChannel: this tab works alone.
      this.becomeLeader();
      return;
    }
    void locks.request(`lockstep:${this.dbName}`, { mode: 'exclusive' }, () => {
      if (this.closed) return undefined;
      this.becomeLeader();
      return new Promise<void>((resolve) => (this.releaseLock = resolve));
    });
  }

  private becomeLeader(): void {
    this.leader = true;
    this.channel?.postMessage({ kind: 'leader', from: this.tabId } satisfies TabMessage);
    for (const listener of [...this.leaderListeners]) listener(true);
    this.startWorker();
  }

  private startWorker(): void {
    const worker = this.options.createWorker?.() ?? spawnDatabaseWorker();
    this.worker = worker;
    worker.addEventListener('message', (event: MessageEvent<WorkerReply>) => this.onWorkerMessage(event.data));
    worker.addEventListener('error', (event) => {
      this.failure = { name: 'SyncClientError', code: ClientErrorCode.sqliteLoad, message: `The database worker failed: ${event.message || 'could not load the worker script'}` };
      for (const p of this.pending.values()) p.reject(deserializeError(this.failure));
      this.pending.clear();
    });
    const init: WorkerInit = {
      kind: 'init',
      schema: this.options.schema,
      dbName: this.dbName,
      sqliteBase: this.options.sqliteBase ?? '/sqlite/',
      baseUrl: this.options.baseUrl ?? '',
      storage: this.options.storage ?? 'opfs',
      logLevel: this.options.logLevel ?? 'info',
      upload: this.options.upload !== undefined,
    };
    worker.postMessage(init);
    globalThis.addEventListener?.('online', this.onOnline);
  }

  /** Back online: the worker reconnects and uploads at once instead of waiting out its backoff. */
  private readonly onOnline = () => this.worker?.postMessage({ kind: 'online' } satisfies OnlineNotice);

  private onWorkerMessage(message: WorkerReply): void {
    switch (message.kind) {
      case 'ready':
        this.workerReady = true;
        this.setStatus(message.status);
        this.channel?.postMessage({ kind: 'status', status: message.status } satisfies TabMessage);
        for (const p of this.pending.values()) this.worker!.postMessage(p.call);
        for (const call of this.queued.splice(0)) this.worker!.postMessage(call);
        break;
      case 'failed':
        this.failure = message.error;
        for (const p of this.pending.values()) p.reject(deserializeError(message.error));
        this.pending.clear();
        break;
      case 'status':
        this.setStatus(message.status);
        this.channel?.postMessage({ kind: 'status', status: message.status } satisfies TabMessage);
        break;
      case 'tables':
        this.tablesChanged(message.tables);
        this.channel?.postMessage({ kind: 'tables', tables: message.tables } satisfies TabMessage);
        break;
      case 'upload': {
        const { id, request } = message;
        const upload = this.options.upload;
        void (upload ? upload(request) : Promise.reject(new Error('no upload function')))
          .catch((error: unknown): UploadResult => ({ status: 'retry', error: { code: 'UPLOAD_UNREACHABLE', message: error instanceof Error ? error.message : String(error) } }))
          .then((result) => this.worker?.postMessage({ kind: 'uploaded', id, result } satisfies UploadAnswer));
        break;
      }
      case 'rejected':
        this.options.onUploadRejected?.(message.rejected);
        break;
      case 'result':
      case 'error': {
        const forwarded = this.forwarded.get(message.id);
        if (forwarded) {
          this.forwarded.delete(message.id);
          const reply: TabMessage = message.kind === 'result' ? { kind: 'result', to: forwarded.tab, id: forwarded.id, value: message.value } : { kind: 'error', to: forwarded.tab, id: forwarded.id, error: message.error };
          this.channel?.postMessage(reply);
        } else {
          this.settle(message.id, message.kind === 'error' ? message.error : null, message.kind === 'result' ? message.value : undefined);
        }
        break;
      }
    }
  }

  private onTabMessage(message: TabMessage): void {
    if (this.closed) return;
    switch (message.kind) {
      case 'leader':
        // A new leader: whatever the old one did not answer is asked again.
        if (message.from !== this.tabId && !this.leader) for (const p of this.pending.values()) this.send(p.call);
        break;
      case 'call': {
        if (!this.leader) return;
        const id = this.nextId++;
        this.forwarded.set(id, { tab: message.from, id: message.call.id });
        const call: CallMessage = { ...message.call, id };
        if (this.workerReady) this.worker!.postMessage(call);
        else this.queued.push(call);
        break;
      }
      case 'result':
      case 'error':
        if (message.to === this.tabId) this.settle(message.id, message.kind === 'error' ? message.error : null, message.kind === 'result' ? message.value : undefined);
        break;
      case 'status':
        if (!this.leader) this.setStatus(message.status);
        break;
      case 'tables':
        if (!this.leader) this.tablesChanged(message.tables);
        break;
    }
  }

  private setStatus(status: SyncStatus): void {
    this.lastStatus = status;
    for (const listener of [...this.statusListeners]) listener(status);
  }

  private tablesChanged(tables: string[]): void {
    for (const listener of [...this.tableListeners]) listener(tables);
  }
}

function randomId(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(8));
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}
