import pg from 'pg';
import { listRulesVersions, storageStats, type StorageStats } from '@/lib/sync/storage';
import { sourceClientConfig } from './source';

export interface SlotStatus {
  name: string;
  active: boolean;
  confirmedFlushLsn: string | null;
  /** WAL between the server's position and what the replicator has confirmed. */
  lagBytes: number | null;
  /** WAL the slot keeps on the server's disk. */
  retainedBytes: number | null;
  walStatus: string | null;
}

export interface ReplicatorStatus {
  versions: Array<{
    id: number;
    state: string;
    version: string;
    snapshot: { complete: boolean; tables: Record<string, { done: boolean; rows: number }> };
    lastLsn: string | null;
    lastCheckpoint: StorageStats['lastCheckpoint'];
    /** Seconds since the last checkpoint was written while the slot still has WAL to deliver. */
    lagSeconds: number | null;
    ops: number;
    buckets: number;
    storageBytes: number;
    slot: SlotStatus | null;
  }>;
  warnings: string[];
}

/**
 * Reads the replicator's state from bucket storage and the source's slots, so that it can be
 * asked from any process (`npm run replicator -- status`) without talking to the leader.
 */
export async function replicatorStatus(sourceUrl: string, storageUrl: string, options: { walWarnBytes?: number } = {}): Promise<ReplicatorStatus> {
  const storage = new pg.Pool({ connectionString: storageUrl, max: 2 });
  const source = new pg.Client(sourceClientConfig(sourceUrl));
  await source.connect();
  try {
    const warnWal = options.walWarnBytes ?? Number(process.env.LOCKSTEP_WAL_WARN_BYTES ?? 1024 ** 3);
    const slots = await source.query<{ slot_name: string; active: boolean; confirmed: string | null; lag: string | null; retained: string | null; wal_status: string | null }>(
      `SELECT slot_name, active, confirmed_flush_lsn::text AS confirmed,
              pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::text AS lag,
              pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::text AS retained, wal_status
         FROM pg_replication_slots WHERE slot_name LIKE 'lockstep\\_%'`,
    );
    const bySlot = new Map(slots.rows.map((s) => [s.slot_name, s]));
    const warnings: string[] = [];
    const versions: ReplicatorStatus['versions'] = [];
    for (const v of await listRulesVersions(storage)) {
      const stats = await storageStats(storage, v.id);
      const s = bySlot.get(v.slotName);
      const slot: SlotStatus | null = s
        ? { name: s.slot_name, active: s.active, confirmedFlushLsn: s.confirmed, lagBytes: s.lag === null ? null : Number(s.lag), retainedBytes: s.retained === null ? null : Number(s.retained), walStatus: s.wal_status }
        : null;
      if (slot?.retainedBytes && slot.retainedBytes > warnWal) {
        warnings.push(`slot ${slot.name} retains ${slot.retainedBytes} bytes of WAL (limit ${warnWal}, LOCKSTEP_WAL_WARN_BYTES): is the replicator running?`);
      }
      if (v.state !== 'retired' && !slot) warnings.push(`rules version ${v.id} has no replication slot (${v.slotName})`);
      const behind = (slot?.lagBytes ?? 0) > 0;
      versions.push({
        id: v.id,
        state: v.state,
        version: v.versionHash,
        snapshot: { complete: v.snapshotProgress.complete, tables: Object.fromEntries(Object.entries(v.snapshotProgress.tables).map(([t, p]) => [t, { done: p.done, rows: p.rows }])) },
        lastLsn: v.lastLsn,
        lastCheckpoint: stats.lastCheckpoint,
        lagSeconds: stats.lastCheckpoint ? (behind ? (Date.now() - stats.lastCheckpoint.createdAt.getTime()) / 1000 : 0) : null,
        ops: stats.ops,
        buckets: stats.buckets,
        storageBytes: stats.totalBytes,
        slot,
      });
    }
    return { versions, warnings };
  } finally {
    await source.end();
    await storage.end();
  }
}
