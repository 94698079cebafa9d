import type { BucketChecksum, CheckpointCompleteLine, CheckpointDiffLine, CheckpointLine, DataLine, StreamRequestInput } from '@/lib/sync/protocol';
import { ClientErrorCode, SyncClientError } from '../errors';
import type { ClientLogger } from '../log';
import { applyTouchedRows } from '../storage/apply';
import type { LocalStore } from '../storage/local-store';
import { setMeta } from '../storage/meta';
import { deleteBuckets, readBuckets, resetBucket, storePage, upsertBuckets, type LocalBucket } from '../storage/oplog';
import { preparePage, type PreparedPage } from '../storage/pages';
import { dropUnsyncedStores } from '../storage/views';
import type { UploadQueue } from '../upload-queue';

/** The checkpoint the stream is delivering: the full set of buckets and their checksums. */
export interface TargetCheckpoint {
  lastOpId: string;
  writeCheckpoint: string | null;
  rulesVersion: string;
  buckets: Map<string, BucketChecksum>;
}

export interface DownloadProgress {
  /** Ops stored for the checkpoint being downloaded. */
  downloadedOps: number;
  /** Ops the checkpoint needs in all (approximate after compaction: counts are for progress only). */
  totalOps: number;
}

/** What a checkpoint_complete led to. */
export type CompleteOutcome =
  | { kind: 'applied'; tables: string[]; lastOpId: string; writeCheckpoint: string | null; at: number }
  /** Verified, but local writes are not yet covered by it: kept until the upload queue says so. */
  | { kind: 'held'; lastOpId: string }
  /** These buckets did not add up: they were emptied and must be downloaded again (reconnect). */
  | { kind: 'checksum_failed'; buckets: Array<{ bucket: string; expected: number; local: number }> };

/**
 * The download half of the protocol on top of the local store: it takes the stream's lines in
 * order and decides what is stored and when a checkpoint is applied (DESIGN.md invariants 2, 3).
 *
 * - Ops are stored as they arrive (so a reload resumes from the stored positions), but the
 *   store tables the views read change only when a checkpoint is applied.
 * - A checkpoint is applied when its checkpoint_complete arrives, every bucket's recomputed
 *   checksum equals the checkpoint's, and the upload queue allows it; then in one transaction.
 * - A bucket that does not add up is emptied and reset to position 0; the caller reconnects so
 *   the server sends it again.
 *
 * No I/O but SQLite: the property test drives it line by line.
 */
export class CheckpointSync {
  private target: TargetCheckpoint | null = null;
  private buckets: Map<string, LocalBucket>;
  private progress: DownloadProgress | null = null;
  private held: TargetCheckpoint | null = null;

  constructor(
    private readonly store: LocalStore,
    private readonly uploadQueue: UploadQueue,
    private readonly log: ClientLogger,
    private readonly now: () => number = Date.now,
  ) {
    this.buckets = readBuckets(store.db);
  }

  /** The body of a stream request: this client's id and the stored position of every bucket. */
  request(): StreamRequestInput {
    const rulesVersion = this.store.applied().rulesVersion;
    return {
      client_id: this.store.clientId,
      buckets: [...this.buckets.values()].filter((b) => b.position > 0).map((b) => ({ name: b.name, after: String(b.position) })),
      ...(rulesVersion === null ? {} : { rules_version: rulesVersion }),
    };
  }

  /** A new stream starts: what the previous one announced no longer counts. */
  streamStarted(): void {
    this.target = null;
    this.progress = null;
  }

  /** The checkpoint the stream is on, if any. */
  get current(): TargetCheckpoint | null {
    return this.target;
  }

  get downloadProgress(): DownloadProgress | null {
    return this.progress;
  }

  /** A checkpoint held back by the upload queue, if any. */
  get heldCheckpoint(): TargetCheckpoint | null {
    return this.held;
  }

  /** Stored positions, for tests and status. */
  localBuckets(): ReadonlyMap<string, Readonly<LocalBucket>> {
    return this.buckets;
  }

  /** The first line of every stream: the whole set of buckets. Buckets not in it are deleted. */
  checkpoint(line: CheckpointLine): void {
    const { db } = this.store;
    const buckets = new Map(line.buckets.map((b) => [b.bucket, b]));
    db.transaction(() => {
      const stored = this.store.applied().rulesVersion;
      if (stored !== line.rules_version) {
        if (stored !== null) this.log.info('sync rules changed: every bucket is downloaded again', { from: stored, to: line.rules_version });
        deleteBuckets(db, [...this.buckets.keys()]);
        setMeta(db, 'rules_version', line.rules_version);
      } else {
        deleteBuckets(db, [...this.buckets.keys()].filter((name) => !buckets.has(name)));
      }
      upsertBuckets(db, line.buckets);
    });
    this.buckets = readBuckets(db);
    this.begin({ lastOpId: line.last_op_id, writeCheckpoint: line.write_checkpoint, rulesVersion: line.rules_version, buckets });
  }

  /** A later checkpoint as a change of the previous one. */
  diff(line: CheckpointDiffLine): void {
    const previous = this.target;
    if (!previous) throw violation('checkpoint_diff before any checkpoint on this stream');
    const buckets = new Map(previous.buckets);
    for (const name of line.removed_buckets) buckets.delete(name);
    for (const b of line.updated_buckets) buckets.set(b.bucket, b);
    const { db } = this.store;
    db.transaction(() => {
      deleteBuckets(db, line.removed_buckets.filter((name) => this.buckets.has(name)));
      upsertBuckets(db, line.updated_buckets);
    });
    this.buckets = readBuckets(db);
    this.begin({ lastOpId: line.last_op_id, writeCheckpoint: line.write_checkpoint, rulesVersion: previous.rulesVersion, buckets });
  }

  private begin(target: TargetCheckpoint): void {
    this.target = target;
    this.held = null;
    let total = 0;
    for (const b of target.buckets.values()) total += Math.max(0, b.count - (this.buckets.get(b.bucket)?.opCount ?? 0));
    this.progress = { downloadedOps: 0, totalOps: total };
  }

  /** Stores pages of ops, all in one transaction. Returns the number of ops stored. */
  data(lines: readonly DataLine[]): number {
    return this.storePages(lines.map(preparePage));
  }

  /**
   * data() for lines already prepared (storage/pages.ts). The engine prepares each data line as
   * soon as it is parsed and keeps only the prepared page until the batch is stored: the parsed
   * ops then die young instead of being carried through several garbage collections.
   */
  storePages(pages: readonly PreparedPage[]): number {
    const target = this.target;
    if (!target) throw violation('data before any checkpoint on this stream');
    for (const page of pages) if (!target.buckets.has(page.bucket)) throw violation(`data for bucket ${page.bucket}, which is not in the checkpoint`);
    const { db } = this.store;
    let ops = 0;
    db.transaction(() => {
      for (const page of pages) {
        let bucket = this.buckets.get(page.bucket)!;
        if (page.after !== bucket.position) {
          // The server restarted the bucket (positions from other rules, or past its checkpoint).
          this.log.info('bucket restarted by the server: downloading it from the start', { bucket: page.bucket, position: bucket.position, after: page.after });
          resetBucket(db, page.bucket);
          // Resetting may restart other buckets too (storage/oplog.ts forgetRows).
          this.buckets = readBuckets(db);
          bucket = this.buckets.get(page.bucket)!;
        }
        if (page.corrupt > 0) this.log.warn('ops whose checksum does not match their content', { bucket: page.bucket, count: page.corrupt });
        storePage(db, page, bucket);
        if (page.invalidData > 0) this.log.warn('PUTs whose data is not JSON: stored as a JSON string (their views read NULL)', { bucket: page.bucket, count: page.invalidData });
        // A CLEAR may have restarted other buckets (storage/oplog.ts forgetRows): read them again.
        if (page.cleared) this.buckets = readBuckets(db);
        ops += page.opCount;
      }
    });
    if (this.progress) this.progress.downloadedOps = Math.min(this.progress.totalOps, this.progress.downloadedOps + ops);
    return ops;
  }

  /**
   * Every op of the checkpoint has arrived: verify every bucket's checksum, then apply the
   * checkpoint unless the upload queue holds it back.
   */
  async complete(line: CheckpointCompleteLine): Promise<CompleteOutcome> {
    const target = this.target;
    if (!target) throw violation('checkpoint_complete before any checkpoint on this stream');
    if (line.last_op_id !== target.lastOpId) throw violation(`checkpoint_complete for ${line.last_op_id}, but the stream is on checkpoint ${target.lastOpId}`);
    const failed: Array<{ bucket: string; expected: number; local: number }> = [];
    for (const b of target.buckets.values()) {
      const local = this.buckets.get(b.bucket)?.checksum ?? 0;
      if (local !== b.checksum) failed.push({ bucket: b.bucket, expected: b.checksum, local });
    }
    if (failed.length > 0) {
      const { db } = this.store;
      db.transaction(() => {
        for (const f of failed) {
          this.log.warn('bucket checksum mismatch: dropping the bucket and downloading it again', f);
          resetBucket(db, f.bucket);
        }
      });
      this.buckets = readBuckets(db);
      this.target = null;
      return { kind: 'checksum_failed', buckets: failed };
    }
    if (this.progress) this.progress.downloadedOps = this.progress.totalOps;
    return this.tryApply(target);
  }

  /** Applies a held checkpoint if the upload queue now allows it (and no newer one started). */
  async retryHeld(): Promise<CompleteOutcome | null> {
    const held = this.held;
    if (!held || held !== this.target) return null;
    return this.tryApply(held);
  }

  private async tryApply(target: TargetCheckpoint): Promise<CompleteOutcome> {
    if (!(await this.uploadQueue.canApply(target.writeCheckpoint))) {
      this.held = target;
      return { kind: 'held', lastOpId: target.lastOpId };
    }
    // The queue check awaited: a newer checkpoint may have started meanwhile; then this one is moot.
    if (this.target !== target) return { kind: 'held', lastOpId: target.lastOpId };
    // …and a local write may have been queued meanwhile: ask again, synchronously this time.
    if (this.uploadQueue.canApply(target.writeCheckpoint) === false) {
      this.held = target;
      return { kind: 'held', lastOpId: target.lastOpId };
    }
    const at = this.now();
    const { db } = this.store;
    const tables = db.transaction(() => {
      const changed = applyTouchedRows(db, { lastOpId: target.lastOpId, writeCheckpoint: target.writeCheckpoint, at });
      dropUnsyncedStores(db, this.store.schemaTables);
      return changed;
    });
    this.held = null;
    this.uploadQueue.checkpointApplied?.(target.writeCheckpoint);
    return { kind: 'applied', tables, lastOpId: target.lastOpId, writeCheckpoint: target.writeCheckpoint, at };
  }
}

function violation(message: string): SyncClientError {
  return new SyncClientError(ClientErrorCode.protocol, `The sync stream broke the protocol: ${message}. Reconnecting.`);
}
