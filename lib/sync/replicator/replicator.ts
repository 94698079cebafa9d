import { createHash } from 'node:crypto';
import pg from 'pg';
import type { CompiledSyncRules } from '@/lib/sync/config';
import {
  activateRulesVersion,
  compact,
  createRulesVersion,
  deleteRulesVersion,
  listRulesVersions,
  migrateStorage,
  retireRulesVersion,
  type RulesVersion,
} from '@/lib/sync/storage';
import { isLockstepError } from '@/lib/sync/errors';
import { ReplicationError } from './errors';
import { createLogger, type Logger } from './log';
import { replicatorRules, type ReplicatorRules } from './rules';
import { dropSlot, sourceClientConfig } from './source';
import { VersionReplicator } from './version-replicator';

export interface ReplicatorOptions {
  /** The app database (the source). */
  sourceUrl: string;
  /** Bucket storage (SYNC_DATABASE_URL). */
  storageUrl: string;
  rules: CompiledSyncRules;
  log?: Logger;
  /** Snapshot rows per chunk (default 10,000). */
  chunkSize?: number;
  /** Source changes per storage commit while streaming (default 5,000). */
  maxBatchChanges?: number;
  /** How often to compact the active version (default 5 minutes; 0 = never). */
  compactEveryMs?: number;
  /** Retry delays after a failure: doubles from min to max, with jitter. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** How often a standby tries to take the lead (default 1 s). */
  standbyPollMs?: number;
}

/**
 * The replicator process's brain. It becomes the leader for its rules version (an advisory lock
 * in bucket storage; other instances with the same sync.config.ts wait as hot standbys), finds or
 * creates that version, snapshots and streams it, and retries with backoff when Postgres restarts
 * or a connection drops. A changed sync.config.ts is a new version: it is built next to the one
 * clients are served from, activated atomically at its first checkpoint, and then the old
 * version's slot and data are dropped.
 */
export class Replicator {
  readonly log: Logger;
  private readonly rules: ReplicatorRules;
  private storage: pg.Pool | undefined;
  private lockClient: pg.Client | undefined;
  private current: VersionReplicator | undefined;
  private stopped = false;
  private compactTimer: NodeJS.Timeout | undefined;
  private wakeUp: (() => void) | undefined;
  /** Kept across retries: once storage held a row the source inserted, inserts are always looked up. */
  private readonly inserts = { areNew: true };
  role: 'starting' | 'standby' | 'leader' | 'stopped' = 'starting';
  versionId: number | undefined;
  /** What the leader runs beside streaming (see `beside`). */
  private housekeeping: Promise<void> = Promise.resolve();

  constructor(private readonly options: ReplicatorOptions) {
    this.log = options.log ?? createLogger({ component: 'replicator' });
    this.rules = replicatorRules(options.rules);
  }

  /** Runs until stop(). */
  async run(): Promise<void> {
    await migrateStorage(this.options.storageUrl);
    this.storage = new pg.Pool({ connectionString: this.options.storageUrl, max: 4 });
    this.storage.on('error', (error) => this.log.warn('storage pool error', { error }));
    let delay = this.options.retryMinMs ?? 500;
    while (!this.stopped) {
      try {
        await this.lead();
        delay = this.options.retryMinMs ?? 500;
      } catch (error) {
        if (this.stopped) break;
        if (isLockstepError(error, 'RULES_VERSION_RETIRED')) {
          this.log.info('this rules version was superseded by a newer sync.config.ts; standing by');
          this.role = 'standby';
          await this.releaseLead();
          await this.sleep(60_000);
          continue;
        } else {
          this.log.error('replication failed; retrying', { error, retryInMs: delay });
        }
        await this.releaseLead();
        await this.sleep(delay * (0.75 + Math.random() / 2));
        delay = Math.min(delay * 2, this.options.retryMaxMs ?? 30_000);
      }
    }
    await this.releaseLead();
    await this.storage.end();
    this.role = 'stopped';
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeUp?.();
    await this.current?.stop();
  }

  /** Seconds of replication lag measured in-process (0 when idle). */
  lagSeconds(): number {
    return this.current?.lagSeconds() ?? 0;
  }

  private async lead(): Promise<void> {
    const storage = this.storage!;
    await this.acquireLock();
    if (this.stopped) return;
    this.role = 'leader';
    const version = await this.findOrCreateVersion(storage);
    this.versionId = version.id;
    const log = this.log.child({ rulesId: version.id });
    log.info('leading', { version: version.versionHash.slice(0, 12), state: version.state });
    let activated = version.state === 'active';
    this.current = new VersionReplicator({
      sourceUrl: this.options.sourceUrl,
      storage,
      rulesId: version.id,
      rules: this.rules,
      log,
      chunkSize: this.options.chunkSize ?? 10_000,
      maxBatchChanges: this.options.maxBatchChanges ?? 5_000,
      inserts: this.inserts,
      onCheckpoint: () => {
        if (activated) return;
        activated = true;
        this.beside(() => this.activate(version.id, log), log, 'activating the new rules version failed');
      },
    });
    // A stop() during the awaits above found no current replicator to stop.
    if (this.stopped) return;
    if (activated) {
      this.scheduleCompaction(version.id, log);
      // A leader stopped (or killed) between activating its version and dropping the ones it
      // replaced leaves them behind, their slots holding WAL on the source: drop them now.
      this.beside(() => this.dropRetired(storage, version.id, log), log, 'dropping retired rules versions failed');
    }
    await this.current.run();
  }

  /**
   * Runs `work` beside streaming, one piece after another; the lead is not let go (nor the
   * storage pool ended) before it is done (releaseLead).
   */
  private beside(work: () => Promise<void>, log: Logger, failure: string): void {
    this.housekeeping = this.housekeeping.then(work).catch((error: unknown) => log.error(failure, { error }));
  }

  /** Makes a freshly built version the one clients see, then drops the versions it replaces. */
  private async activate(id: number, log: Logger): Promise<void> {
    const storage = this.storage!;
    await activateRulesVersion(storage, id);
    log.info('rules version active');
    await this.dropRetired(storage, id, log);
    this.scheduleCompaction(id, log);
  }

  private async dropRetired(storage: pg.Pool, keep: number, log: Logger): Promise<void> {
    const source = new pg.Client(sourceClientConfig(this.options.sourceUrl));
    source.on('error', () => undefined); // a dropped connection fails the query in flight or the next one
    await source.connect();
    try {
      for (const old of await listRulesVersions(storage)) {
        if (old.id === keep || old.state !== 'retired') continue;
        await dropSlot(source, old.slotName);
        await deleteRulesVersion(storage, old.id);
        log.info('dropped a retired rules version', { rulesId: old.id, slot: old.slotName });
      }
    } finally {
      await source.end();
    }
  }

  private scheduleCompaction(id: number, log: Logger): void {
    const every = this.options.compactEveryMs ?? 5 * 60_000;
    clearInterval(this.compactTimer);
    if (every <= 0) return;
    this.compactTimer = setInterval(() => {
      compact(this.storage!, id)
        .then((result) => log.info('compacted', { ...result }))
        .catch((error: unknown) => log.warn('compaction failed', { error }));
    }, every);
    this.compactTimer.unref();
  }

  private async findOrCreateVersion(storage: pg.Pool): Promise<RulesVersion> {
    const hash = this.rules.versionHash;
    const versions = await listRulesVersions(storage);
    if (this.versionId !== undefined && !versions.some((v) => v.id === this.versionId && v.state !== 'retired')) {
      // Our version was replaced by a newer sync.config.ts (another instance built and activated
      // it): building ours again would undo that, so this instance only stands by from now on.
      throw new ReplicationError('RULES_VERSION_RETIRED', `Rules version ${this.versionId} was replaced by a newer sync.config.ts.`);
    }
    const mine = versions.find((v) => v.versionHash === hash && v.state !== 'retired');
    if (mine) return mine;
    const building = versions.find((v) => v.state === 'building');
    if (building) {
      // A version for a sync.config.ts that no longer exists here; we hold no lock on it, but its
      // builder would hold the per-version lock, so only abandon it when that lock is free.
      if (!(await this.lockIsFree(building.versionHash))) throw new Error(`rules version ${building.id} is being built by another replicator; waiting`);
      await retireRulesVersion(storage, building.id);
      await this.dropRetired(storage, -1, this.log);
    }
    const slotName = slotNameFor(this.options.sourceUrl, this.options.storageUrl, hash);
    return createRulesVersion(storage, { versionHash: hash, slotName });
  }

  private lockKey(hash: string): string {
    return `lockstep:replicator:${databaseIdentity(this.options.sourceUrl)}:${hash}`;
  }

  /** Waits until this instance holds the leader lock of its rules version (standby until then). */
  private async acquireLock(): Promise<void> {
    if (this.lockClient) return;
    const client = new pg.Client({ connectionString: this.options.storageUrl, application_name: 'lockstep-replicator-lock' });
    await client.connect();
    client.on('error', (error) => {
      // The lock went with the connection: another instance may lead now, so stop at once.
      this.log.error('lost the leader lock connection', { error });
      this.lockClient = undefined;
      void this.current?.stop();
    });
    let announced = false;
    while (!this.stopped) {
      const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok', [this.lockKey(this.rules.versionHash)]);
      if (rows[0]?.ok) {
        this.lockClient = client;
        return;
      }
      if (!announced) {
        this.role = 'standby';
        this.log.info('another replicator leads this rules version; standing by');
        announced = true;
      }
      await this.sleep(this.options.standbyPollMs ?? 1_000);
    }
    await client.end();
  }

  /** True when no replicator holds the leader lock of that version (checked by taking it briefly). */
  private async lockIsFree(hash: string): Promise<boolean> {
    const client = await this.storage!.connect();
    try {
      const key = this.lockKey(hash);
      const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok', [key]);
      if (rows[0]?.ok) await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [key]);
      return rows[0]?.ok ?? false;
    } finally {
      client.release();
    }
  }

  private async releaseLead(): Promise<void> {
    await this.housekeeping;
    clearInterval(this.compactTimer);
    await this.current?.stop().catch(() => undefined);
    this.current = undefined;
    const client = this.lockClient;
    this.lockClient = undefined;
    await client?.end().catch(() => undefined);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve(); // stop() came while no sleep was there to wake
      const timer = setTimeout(resolve, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** Slot names are unique per (app database, storage database, rules version): several apps may share a server. */
export function slotNameFor(sourceUrl: string, storageUrl: string, versionHash: string): string {
  const scope = createHash('sha256').update(`${databaseIdentity(sourceUrl)}\n${databaseIdentity(storageUrl)}`).digest('hex').slice(0, 10);
  return `lockstep_${scope}_${versionHash.replace(/[^a-z0-9]/gi, '').toLowerCase().slice(0, 12)}`;
}

function databaseIdentity(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || '5432'}/${decodeURIComponent(u.pathname.slice(1))}`;
}
