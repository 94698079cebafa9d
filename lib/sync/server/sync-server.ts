import pg from 'pg';
import type { CompiledSyncRules } from '@/lib/sync/config';
import { SyncErrorCode, SyncProtocolError } from '@/lib/sync/protocol';
import type { PageLimits } from '@/lib/sync/storage';
import { syncAuthFromEnv, type SyncAuthConfig } from './auth/config';
import { handleJwks, handleTokenRequest, handleWriteCheckpoint, recordWriteCheckpoint, type SessionLike, type TokenClaimsFn } from './endpoints';
import { SyncHub } from './hub/hub';
import { consoleLogger, type SyncServerLogger } from './log';
import { handleStream } from './stream/handler';

export interface SyncServerOptions {
  /** The compiled sync.config.ts. */
  rules: CompiledSyncRules;
  /** Bucket storage (SYNC_DATABASE_URL). */
  storageUrl: string;
  /** The app database, read for write checkpoints (its current WAL position). Or `sourcePool`. */
  sourceUrl?: string;
  sourcePool?: pg.Pool;
  /** How tokens are signed and verified; default syncAuthFromEnv(). */
  auth?: SyncAuthConfig | (() => Promise<SyncAuthConfig>);
  /** App-defined claims put in every sync token (GET /api/sync/token). */
  tokenClaims?: TokenClaimsFn;
  log?: SyncServerLogger;
  /** Keepalive interval of idle streams (default 20 s). */
  keepaliveMs?: number;
  /** Data page bounds (default 2,000 ops or 1 MiB of row data, whichever comes first). */
  page?: Partial<PageLimits>;
  /** Connections to bucket storage for this process, LISTEN excluded (default 10). */
  storagePoolSize?: number;
  /** Shared checkpoint rounds for idle streams (default true); see SyncHubOptions.rounds. */
  checkpointRounds?: boolean;
  /** How long a request waits for bucket storage before it is answered 503 (default 10 s). */
  readyTimeoutMs?: number;
}

export const DEFAULT_PAGE: PageLimits = { maxOps: 2_000, maxBytes: 1024 * 1024 };
export const DEFAULT_KEEPALIVE_MS = 20_000;

/**
 * The sync endpoints of one process over one bucket storage: route handlers call its methods
 * with the Web Request and return the Response. Creating it opens nothing; the first stream
 * opens the LISTEN connection and the storage pool is used on demand.
 *
 * @example
 *   const server = new SyncServer({ rules: compileSyncRules(syncConfig), storageUrl: process.env.SYNC_DATABASE_URL!, sourceUrl: process.env.DATABASE_URL });
 *   export const POST = (request: Request) => server.stream(request);
 */
export class SyncServer {
  readonly hub: SyncHub;
  readonly storagePool: pg.Pool;
  private readonly log: SyncServerLogger;
  private sourcePool: pg.Pool | undefined;
  private readonly ownsSource: boolean;
  private authConfig: Promise<SyncAuthConfig> | undefined;

  constructor(private readonly options: SyncServerOptions) {
    this.log = options.log ?? consoleLogger;
    this.storagePool = new pg.Pool({ connectionString: options.storageUrl, max: options.storagePoolSize ?? 10 });
    this.storagePool.on('error', (error) => this.log.warn('idle bucket storage connection failed', { error }));
    this.sourcePool = options.sourcePool;
    this.ownsSource = !options.sourcePool;
    this.hub = new SyncHub({
      storageUrl: options.storageUrl,
      storagePool: this.storagePool,
      rules: options.rules,
      log: this.log,
      keepaliveMs: options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS,
      page: { ...DEFAULT_PAGE, ...options.page },
      rounds: options.checkpointRounds ?? true,
      ...(options.readyTimeoutMs === undefined ? {} : { readyTimeoutMs: options.readyTimeoutMs }),
    });
  }

  /** The token configuration, loaded once (a failed load is retried on the next call). */
  auth(): Promise<SyncAuthConfig> {
    const option = this.options.auth;
    if (option && typeof option !== 'function') return Promise.resolve(option);
    this.authConfig ??= (option ?? (() => syncAuthFromEnv()))().catch((error: unknown) => {
      this.authConfig = undefined;
      throw error;
    });
    return this.authConfig;
  }

  /** POST /api/sync/stream. */
  stream(request: Request): Promise<Response> {
    return handleStream(request, { auth: () => this.auth(), hub: this.hub, log: this.log });
  }

  /** GET /api/sync/token, given the request's session (null when signed out). */
  token(session: SessionLike | null): Promise<Response> {
    return handleTokenRequest(session, { auth: () => this.auth(), ...(this.options.tokenClaims ? { claims: this.options.tokenClaims } : {}), log: this.log });
  }

  /** POST /api/sync/write-checkpoint. */
  writeCheckpoint(request: Request): Promise<Response> {
    return handleWriteCheckpoint(request, { auth: () => this.auth(), source: () => this.source(), storage: this.storagePool, log: this.log });
  }

  /** GET /api/sync/jwks. */
  jwks(): Promise<Response> {
    return handleJwks({ auth: () => this.auth(), log: this.log });
  }

  /**
   * Records a write checkpoint for (user, client) at the app database's current WAL position;
   * for upload server actions, after their transaction committed. Returns its id.
   */
  recordWriteCheckpoint(userId: string, clientId: string): Promise<number> {
    return recordWriteCheckpoint(this.source(), this.storagePool, userId, clientId);
  }

  /** Streams open in this process. */
  get streamCount(): number {
    return this.hub.streamCount;
  }

  private source(): pg.Pool {
    if (!this.sourcePool) {
      if (!this.options.sourceUrl) throw new SyncProtocolError(SyncErrorCode.misconfigured, 'Write checkpoints need the app database: pass sourceUrl (DATABASE_URL) or sourcePool.');
      this.sourcePool = new pg.Pool({ connectionString: this.options.sourceUrl, max: 2 });
      this.sourcePool.on('error', (error) => this.log.warn('idle app database connection failed', { error }));
    }
    return this.sourcePool;
  }

  /** Ends every stream, stops listening and closes the pools this server opened. */
  async close(): Promise<void> {
    await this.hub.close();
    await this.storagePool.end();
    if (this.ownsSource) await this.sourcePool?.end();
  }
}
