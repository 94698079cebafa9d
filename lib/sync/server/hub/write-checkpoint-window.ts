import type pg from 'pg';
import { maxWriteCheckpointId, writeCheckpointsAt, writeCheckpointsReachedAt, type WriteCheckpointsAt } from '@/lib/sync/storage/stream-reads';

/**
 * How long a write checkpoint's insert (one short statement) may take and still be found by the
 * rounds' incremental reads. Ids read longer ago than this are taken as committed: rounds ask
 * again for every id handed out since then (see writeCheckpointsReachedAt).
 */
export const WRITE_CHECKPOINT_LAG_MS = 5_000;

/**
 * Rounds still ask for every participant this often: an insert slower than the lag above is then
 * acknowledged late, never missed.
 */
export const WRITE_CHECKPOINT_FULL_READ_MS = 60_000;

/**
 * Which write checkpoints each round's checkpoint reaches, read with a cost that follows the write
 * checkpoints made meanwhile instead of the number of clients connected: those whose LSN is after
 * the previous round's checkpoint, and those inserted recently (ids after the highest id seen
 * WRITE_CHECKPOINT_LAG_MS ago), which covers one committed just after a checkpoint past its LSN
 * was read. Until it knows both (the hub's first seconds, or after a failed round or another rules
 * version), and every WRITE_CHECKPOINT_FULL_READ_MS, it asks for every participant instead, as a
 * stream does for itself.
 */
export class WriteCheckpointWindow {
  /** The LSN of the checkpoint the last round used; null when unknown. */
  private lsn: string | null = null;
  /** Highest ids seen, oldest first, with when they were read. */
  private seen: Array<{ at: number; maxId: number }> = [];
  private lastFullRead = -Infinity;

  constructor(
    private readonly lagMs = WRITE_CHECKPOINT_LAG_MS,
    private readonly fullReadMs = WRITE_CHECKPOINT_FULL_READ_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Reads the highest id there is now, so that rounds can use the window lagMs later (the hub does this when it starts). */
  async observe(pool: pg.Pool): Promise<void> {
    const maxId = await maxWriteCheckpointId(pool);
    this.seen.push({ at: this.now(), maxId });
  }

  /** Reads the write checkpoints checkpoint `checkpointOpId` reaches; `clients` are asked for when the window cannot be used. */
  async read(pool: pg.Pool, rulesId: number, checkpointOpId: number, clients: () => Array<{ userId: string; clientId: string }>): Promise<WriteCheckpointsAt> {
    const afterId = this.floor();
    const afterLsn = this.lsn;
    let result: WriteCheckpointsAt;
    if (afterId !== null && afterLsn !== null && this.now() - this.lastFullRead < this.fullReadMs) {
      result = await writeCheckpointsReachedAt(pool, rulesId, checkpointOpId, afterId, afterLsn);
    } else {
      this.lastFullRead = this.now();
      result = await writeCheckpointsAt(pool, rulesId, checkpointOpId, clients());
    }
    // Timed after the answer, so the age of what it saw is never overstated.
    this.seen.push({ at: this.now(), maxId: result.maxId });
    return result;
  }

  /** The round that read `lsn` has handed it to its streams: the next round reads what comes after. */
  settle(lsn: string | null): void {
    if (lsn !== null) this.lsn = lsn;
  }

  /** Forgets the last LSN (a round failed, or another rules version is served): the next round asks for every participant. */
  reset(): void {
    this.lsn = null;
  }

  /** The highest id read at least lagMs ago; null when nothing was read that long ago. */
  private floor(): number | null {
    const cutoff = this.now() - this.lagMs;
    let floor: number | null = null;
    let drop = 0;
    for (let i = 0; i < this.seen.length && this.seen[i]!.at <= cutoff; i++) {
      floor = Math.max(floor ?? 0, this.seen[i]!.maxId);
      drop = i;
    }
    // Older readings than the last one old enough are of no more use.
    if (drop > 0) this.seen.splice(0, drop);
    return floor;
  }
}
