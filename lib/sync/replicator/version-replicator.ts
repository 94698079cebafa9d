import pg from 'pg';
import { getRulesVersion, latestCheckpoint, setLastLsn, updateSnapshotProgress, type CommitResult } from '@/lib/sync/storage';
import { ReplicationError } from './errors';
import type { Logger } from './log';
import type { Lsn } from './lsn';
import type { ReplicatorRules } from './rules';
import { snapshotTables, type ReplicatorSnapshotProgress } from './snapshot';
import { checkSourceTables, createSlotWithSnapshot, currentLsn, slotExists, sourceClientConfig, type CreatedSlot } from './source';
import { Streamer, type InsertTrust } from './streamer';

export interface VersionReplicatorOptions {
  sourceUrl: string;
  storage: pg.Pool;
  rulesId: number;
  rules: ReplicatorRules;
  log: Logger;
  chunkSize: number;
  maxBatchChanges: number;
  onCheckpoint?: (result: CommitResult, lsn: Lsn) => void;
  /** See StreamerOptions.inserts: kept by the caller across runs. */
  inserts?: InsertTrust;
}

/**
 * Replicates one rules version: creates its slot and snapshot on first run (resuming an
 * interrupted snapshot), then follows the slot. `run()` returns when stopped and rejects on any
 * failure; calling it again resumes from what storage has committed.
 */
export class VersionReplicator {
  private streamer: Streamer | undefined;
  private readonly abort = new AbortController();

  constructor(private readonly options: VersionReplicatorOptions) {}

  async run(): Promise<void> {
    const { storage, rulesId, rules, log } = this.options;
    const version = await getRulesVersion(storage, rulesId);
    if (!version) throw new ReplicationError('RULES_VERSION_MISSING', `Rules version ${rulesId} is not in bucket storage.`);
    if (version.state === 'retired') throw new ReplicationError('RULES_VERSION_RETIRED', `Rules version ${rulesId} was retired by a newer version.`);
    const progress = version.snapshotProgress as ReplicatorSnapshotProgress;

    const admin = new pg.Client(sourceClientConfig(this.options.sourceUrl));
    admin.on('error', () => undefined); // a dropped connection fails the query in flight or the next one
    await admin.connect();
    let created: CreatedSlot | undefined;
    try {
      await checkSourceTables(admin, rules.publicationName, rules.sourceTables);
      const haveSlot = await slotExists(admin, version.slotName);
      if (!progress.complete) {
        if (!haveSlot) {
          if (Object.keys(progress.tables).length > 0) throw slotLost(version.slotName);
          created = await createSlotWithSnapshot(this.options.sourceUrl, version.slotName);
          // Streaming starts here, whatever happens to the snapshot: a resumed snapshot relies on it.
          await setLastLsn(storage, rulesId, created.consistentPoint);
          log.info('created replication slot', { slot: version.slotName, consistentPoint: created.consistentPoint });
        } else {
          log.info('resuming an interrupted snapshot without its exported snapshot; consistent once streaming passes its end', { slot: version.slotName });
        }
        await snapshotTables({
          sourceUrl: this.options.sourceUrl,
          storage,
          rulesId,
          rules,
          progress,
          snapshotName: created?.snapshotName,
          chunkSize: this.options.chunkSize,
          log,
          signal: this.abort.signal,
        });
        progress.catchUpLsn = created ? created.consistentPoint : await currentLsn(admin);
        progress.complete = true;
        await updateSnapshotProgress(storage, rulesId, progress);
      } else if (!haveSlot) {
        throw slotLost(version.slotName);
      }
    } finally {
      await created?.connection.end().catch(() => undefined);
      await admin.end().catch(() => undefined);
    }
    const fresh = await getRulesVersion(storage, rulesId);
    const hasCheckpoint = (await latestCheckpoint(storage, rulesId)) !== null;
    // Checked after the last await before the streamer exists: a stop() that came earlier found
    // no streamer to stop, and streaming now would run on after it.
    if (this.abort.signal.aborted) return;
    const catchUpLsn = progress.catchUpLsn ?? '0/0';
    this.streamer = new Streamer({
      sourceUrl: this.options.sourceUrl,
      storage,
      rulesId,
      slot: version.slotName,
      rules,
      resumeLsn: fresh?.lastLsn ?? catchUpLsn,
      catchUpLsn,
      hasCheckpoint,
      maxBatchChanges: this.options.maxBatchChanges,
      log,
      ...(this.options.inserts ? { inserts: this.options.inserts } : {}),
      ...(this.options.onCheckpoint ? { onCheckpoint: this.options.onCheckpoint } : {}),
    });
    log.info('streaming', { slot: version.slotName, from: fresh?.lastLsn ?? catchUpLsn });
    await this.streamer.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.streamer?.stop();
  }

  lagSeconds(): number {
    return this.streamer?.lagSeconds() ?? 0;
  }
}

function slotLost(slot: string): ReplicationError {
  return new ReplicationError(
    'SLOT_LOST',
    `The replication slot ${slot} is gone (dropped by hand, or removed by max_slot_wal_keep_size), so changes were missed. Run \`npm run replicator -- --resync\` to rebuild bucket storage from a new snapshot.`,
  );
}
