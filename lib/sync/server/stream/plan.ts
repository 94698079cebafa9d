import type { BucketGrant } from '@/lib/sync/config';
import type { BucketChecksum } from '@/lib/sync/protocol';
import type { BucketState } from '@/lib/sync/storage';

/**
 * What a stream sends for a checkpoint, decided from what the client holds: pure functions, so
 * the rules (which buckets, from which position, in which order) are tested without a server.
 */

/** A bucket as the client holds it after the last checkpoint sent. */
export interface HeldBucket {
  priority: number;
  checksum: number;
  count: number;
  /** The client has every op of the bucket up to this op id. */
  position: number;
}

/** The client's state as far as this stream knows it. */
export interface StreamState {
  lastOpId: number;
  writeCheckpoint: number | null;
  buckets: Map<string, HeldBucket>;
}

/** The data to send for one priority level, in the order to send it. */
export interface PriorityGroup {
  priority: number;
  sends: Array<{ bucket: string; after: number }>;
}

export interface CheckpointPlan {
  /** False when nothing the client sees changed: send no lines, just move on to `next`. */
  changed: boolean;
  /** The buckets for the checkpoint line, or the updated ones for a diff; priority order. */
  buckets: BucketChecksum[];
  /** Buckets the client must delete (diffs only). */
  removed: string[];
  /** Every priority level the user has, ascending; each but the last is closed by partial_checkpoint_complete. */
  groups: PriorityGroup[];
  /** The client's state once everything planned is sent. */
  next: StreamState;
}

const byPriority = (a: BucketGrant, b: BucketGrant) => a.priority - b.priority || (a.bucket < b.bucket ? -1 : a.bucket > b.bucket ? 1 : 0);

function wire(grant: BucketGrant, state: BucketState): BucketChecksum {
  return { bucket: grant.bucket, checksum: state.checksum, count: state.count, priority: grant.priority };
}

function groupsOf(grants: BucketGrant[], sends: Map<string, number>): PriorityGroup[] {
  const groups: PriorityGroup[] = [];
  for (const grant of grants) {
    let group = groups[groups.length - 1];
    if (!group || group.priority !== grant.priority) groups.push((group = { priority: grant.priority, sends: [] }));
    const after = sends.get(grant.bucket);
    if (after !== undefined) group.sends.push({ bucket: grant.bucket, after });
  }
  return groups;
}

/**
 * The first checkpoint of a stream. `positions` are the client's claimed positions; only those of
 * granted buckets count, and one past the checkpoint (from other storage, or other sync rules)
 * restarts its bucket from 0.
 */
export function planInitial(grants: BucketGrant[], states: Map<string, BucketState>, positions: ReadonlyMap<string, number>, checkpointOpId: number, writeCheckpoint: number | null): CheckpointPlan {
  const sorted = [...grants].sort(byPriority);
  const sends = new Map<string, number>();
  const held = new Map<string, HeldBucket>();
  for (const grant of sorted) {
    const state = states.get(grant.bucket)!;
    let position = positions.get(grant.bucket) ?? 0;
    if (position > checkpointOpId) position = 0;
    if (state.lastOpId > position) sends.set(grant.bucket, position);
    held.set(grant.bucket, { priority: grant.priority, checksum: state.checksum, count: state.count, position: Math.max(position, state.lastOpId) });
  }
  return {
    changed: true,
    buckets: sorted.map((grant) => wire(grant, states.get(grant.bucket)!)),
    removed: [],
    groups: groupsOf(sorted, sends),
    next: { lastOpId: checkpointOpId, writeCheckpoint, buckets: held },
  };
}

/** The state of a bucket the client holds, as planDiff needs it, when nothing changed since. */
export function heldState(held: HeldBucket): BucketState {
  return { checksum: held.checksum, count: held.count, lastOpId: held.position, compactedOpId: 0 };
}

/**
 * A later checkpoint: buckets the user gained (sent from 0), buckets with new ops (sent from the
 * client's position), buckets the user lost. `changed` is false when nothing the client sees
 * changed (no bucket, no write checkpoint): then nothing is sent.
 */
export function planDiff(previous: StreamState, grants: BucketGrant[], states: Map<string, BucketState>, checkpointOpId: number, writeCheckpoint: number | null): CheckpointPlan {
  const sorted = [...grants].sort(byPriority);
  const granted = new Set(sorted.map((g) => g.bucket));
  const removed = [...previous.buckets.keys()].filter((bucket) => !granted.has(bucket)).sort();
  const updated: BucketChecksum[] = [];
  const sends = new Map<string, number>();
  const held = new Map<string, HeldBucket>();
  for (const grant of sorted) {
    const state = states.get(grant.bucket)!;
    const before = previous.buckets.get(grant.bucket);
    const position = before?.position ?? 0;
    if (!before || state.lastOpId > position || state.checksum !== before.checksum || grant.priority !== before.priority) updated.push(wire(grant, state));
    if (state.lastOpId > position) sends.set(grant.bucket, position);
    held.set(grant.bucket, { priority: grant.priority, checksum: state.checksum, count: state.count, position: Math.max(position, state.lastOpId) });
  }
  const wc = writeCheckpoint === null || (previous.writeCheckpoint !== null && previous.writeCheckpoint >= writeCheckpoint) ? previous.writeCheckpoint : writeCheckpoint;
  const next: StreamState = { lastOpId: Math.max(previous.lastOpId, checkpointOpId), writeCheckpoint: wc, buckets: held };
  const changed = updated.length > 0 || removed.length > 0 || wc !== previous.writeCheckpoint;
  return { changed, buckets: updated, removed, groups: groupsOf(sorted, sends), next };
}

/**
 * Splits a bucket's ops in (after, end] into consecutive op id ranges, so that the next range's
 * first page can be read while this one is sent: two queries at a time instead of one, for
 * buckets of more than a few pages. Ranges are cut at evenly spaced op ids, so they hold roughly
 * equal numbers of ops when the bucket's ops are spread evenly; any cut is correct.
 */
export function splitRange(after: number, end: number, ops: number, maxOps: number): Array<{ after: number; upTo: number }> {
  const parts = Math.min(16, Math.floor(ops / (4 * maxOps)));
  if (parts < 2 || end - after < parts) return [{ after, upTo: end }];
  const ranges: Array<{ after: number; upTo: number }> = [];
  let from = after;
  for (let i = 1; i <= parts; i++) {
    const to = i === parts ? end : after + Math.round(((end - after) * i) / parts);
    ranges.push({ after: from, upTo: to });
    from = to;
  }
  return ranges;
}

/**
 * What decides planDiff's lines for a client whose grants did not change: each grant's priority
 * and, for buckets the round changed, how the client holds them, and the write checkpoint after
 * the diff. Clients with the same key get the same lines (they differ only in `next`), so a round
 * plans them once (sharedDiff). Undefined when the shortcut does not apply: the grants and the
 * held buckets differ, or a priority moved; then use planDiff.
 */
export function diffKey(previous: StreamState, grants: readonly BucketGrant[], changed: ReadonlyMap<string, BucketState>, writeCheckpoint: number | null): string | undefined {
  if (grants.length !== previous.buckets.size) return undefined;
  // The diff line carries the client's write checkpoint after it, whether or not it moved.
  const wc = writeCheckpoint === null || (previous.writeCheckpoint !== null && previous.writeCheckpoint >= writeCheckpoint) ? previous.writeCheckpoint : writeCheckpoint;
  let key = `${wc}\u0000${wc === previous.writeCheckpoint}`;
  for (const grant of grants) {
    const held = previous.buckets.get(grant.bucket);
    if (!held || held.priority !== grant.priority) return undefined;
    key += changed.has(grant.bucket) ? `\u0000${grant.priority}\u0001${grant.bucket}\u0001${held.position}\u0001${held.checksum}` : `\u0000${grant.priority}`;
  }
  return key;
}

/**
 * planDiff's `next` for a client that held every granted bucket (diffKey applied): its buckets
 * with those the round changed moved on. Built per client, while the lines are shared.
 */
export function advanceState(previous: StreamState, changed: ReadonlyMap<string, BucketState>, checkpointOpId: number, writeCheckpoint: number | null): StreamState {
  const buckets = new Map(previous.buckets);
  for (const [bucket, held] of previous.buckets) {
    const state = changed.get(bucket);
    if (state) buckets.set(bucket, { priority: held.priority, checksum: state.checksum, count: state.count, position: Math.max(held.position, state.lastOpId) });
  }
  const wc = writeCheckpoint === null || (previous.writeCheckpoint !== null && previous.writeCheckpoint >= writeCheckpoint) ? previous.writeCheckpoint : writeCheckpoint;
  return { lastOpId: Math.max(previous.lastOpId, checkpointOpId), writeCheckpoint: wc, buckets };
}
