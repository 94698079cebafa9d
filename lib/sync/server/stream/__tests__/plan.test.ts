import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BucketState } from '@/lib/sync/storage';
import { advanceState, diffKey, heldState, planDiff, planInitial, splitRange, type CheckpointPlan, type StreamState } from '../plan';

const state = (lastOpId: number, checksum = lastOpId * 7): BucketState => ({ lastOpId, checksum, count: lastOpId, compactedOpId: 0 });

describe('planInitial', () => {
  it('sends each bucket from the client position, highest priority first, and restarts positions past the checkpoint', () => {
    const grants = [
      { bucket: 'announcements[]', priority: 3 },
      { bucket: 'list["b"]', priority: 1 },
      { bucket: 'me["u"]', priority: 0 },
      { bucket: 'list["a"]', priority: 1 },
    ];
    const states = new Map([
      ['announcements[]', state(0)],
      ['list["a"]', state(30)],
      ['list["b"]', state(20)],
      ['me["u"]', state(10)],
    ]);
    const plan = planInitial(grants, states, new Map([['list["a"]', 30], ['list["b"]', 5], ['me["u"]', 999], ['list["foreign"]', 0]]), 40, null);
    expect(plan.buckets.map((b) => b.bucket)).toEqual(['me["u"]', 'list["a"]', 'list["b"]', 'announcements[]']);
    expect(plan.groups).toEqual([
      { priority: 0, sends: [{ bucket: 'me["u"]', after: 0 }] },
      { priority: 1, sends: [{ bucket: 'list["b"]', after: 5 }] },
      { priority: 3, sends: [] },
    ]);
    expect([...plan.next.buckets.keys()].sort()).toEqual(['announcements[]', 'list["a"]', 'list["b"]', 'me["u"]']);
    expect(plan.next.buckets.get('list["b"]')?.position).toBe(20);
  });
});

describe('planDiff', () => {
  const previous: StreamState = {
    lastOpId: 40,
    writeCheckpoint: 3,
    buckets: new Map([
      ['list["a"]', { priority: 1, checksum: 1, count: 1, position: 30 }],
      ['list["b"]', { priority: 1, checksum: 2, count: 1, position: 20 }],
    ]),
  };

  it('adds new buckets from 0, sends changed ones from their position, removes lost ones', () => {
    const plan = planDiff(previous, [{ bucket: 'list["a"]', priority: 1 }, { bucket: 'list["c"]', priority: 1 }], new Map([['list["a"]', state(45, 9)], ['list["c"]', state(12)]]), 50, 3);
    expect(plan.changed).toBe(true);
    expect(plan.removed).toEqual(['list["b"]']);
    expect(plan.buckets.map((b) => b.bucket)).toEqual(['list["a"]', 'list["c"]']);
    expect(plan.groups).toEqual([{ priority: 1, sends: [{ bucket: 'list["a"]', after: 30 }, { bucket: 'list["c"]', after: 0 }] }]);
  });

  it('is unchanged when no bucket moved and the write checkpoint did not advance; a lower one never goes back', () => {
    const states = new Map([['list["a"]', state(30, 1)], ['list["b"]', state(20, 2)]]);
    const grants = [{ bucket: 'list["a"]', priority: 1 }, { bucket: 'list["b"]', priority: 1 }];
    const same = planDiff(previous, grants, states, 60, 2);
    expect(same.changed).toBe(false);
    expect(same.next).toMatchObject({ lastOpId: 60, writeCheckpoint: 3 });
    const acked = planDiff(previous, grants, states, 60, 4);
    expect(acked).toMatchObject({ changed: true, buckets: [], removed: [] });
    expect(acked.next.writeCheckpoint).toBe(4);
  });
});

/** A client that applies plans as docs/protocol.md says, assuming each planned send delivers the bucket up to the checkpoint. */
function apply(held: Map<string, number>, plan: CheckpointPlan, states: Map<string, BucketState>, initial: boolean): void {
  if (initial) {
    for (const bucket of [...held.keys()]) if (!plan.buckets.some((b) => b.bucket === bucket)) held.delete(bucket);
  }
  for (const bucket of plan.removed) held.delete(bucket);
  for (const b of plan.buckets) if (!held.has(b.bucket)) held.set(b.bucket, 0);
  for (const group of plan.groups) {
    for (const send of group.sends) {
      expect(send.after).toBe(held.get(send.bucket));
      held.set(send.bucket, states.get(send.bucket)!.lastOpId);
    }
  }
}

describe('plans over random histories (property)', () => {
  it('keep the client exactly on the granted buckets, each complete up to the checkpoint', () => {
    const names = ['a', 'b', 'c', 'd', 'e'].map((n) => `list["${n}"]`);
    const round = fc.record({
      granted: fc.subarray(names),
      growth: fc.array(fc.nat({ max: 3 }), { minLength: names.length, maxLength: names.length }),
      priorities: fc.array(fc.nat({ max: 3 }), { minLength: names.length, maxLength: names.length }),
      writeCheckpoint: fc.option(fc.nat({ max: 20 }), { nil: null }),
    });
    fc.assert(
      fc.property(fc.array(round, { minLength: 1, maxLength: 12 }), (rounds) => {
        const lastOp = new Map(names.map((n) => [n, 0]));
        let opId = 0;
        let streamState: StreamState | null = null;
        const held = new Map<string, number>();
        let acked: number | null = null;
        for (const r of rounds) {
          names.forEach((n, i) => {
            if (r.growth[i]! > 0) lastOp.set(n, (opId += r.growth[i]!));
          });
          const checkpoint = ++opId;
          const states = new Map(names.map((n) => [n, state(lastOp.get(n)!)]));
          const grants = r.granted.map((bucket) => ({ bucket, priority: r.priorities[names.indexOf(bucket)]! }));
          const plan: CheckpointPlan = streamState === null ? planInitial(grants, states, new Map(), checkpoint, r.writeCheckpoint) : planDiff(streamState, grants, states, checkpoint, r.writeCheckpoint);
          if (streamState !== null && !plan.changed) expect(plan.buckets.length + plan.removed.length).toBe(0);
          apply(held, plan, states, streamState === null);
          streamState = plan.next;
          expect([...held.keys()].sort()).toEqual([...r.granted].sort());
          for (const bucket of r.granted) expect(held.get(bucket)).toBe(states.get(bucket)!.lastOpId);
          const priorities = plan.groups.map((g) => g.priority);
          expect(priorities).toEqual([...new Set(grants.map((g) => g.priority))].sort((x, y) => x - y));
          if (acked !== null) expect(streamState.writeCheckpoint).toBeGreaterThanOrEqual(acked);
          acked = streamState.writeCheckpoint;
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('splitRange', () => {
  it('keeps small sends whole and cuts large ones into consecutive ranges covering exactly (after, end]', () => {
    expect(splitRange(0, 100, 100, 2000)).toEqual([{ after: 0, upTo: 100 }]);
    fc.assert(
      fc.property(fc.nat({ max: 10_000_000 }), fc.nat({ max: 10_000_000 }), fc.nat({ max: 500_000 }), fc.integer({ min: 1, max: 5000 }), (after, span, ops, maxOps) => {
        const ranges = splitRange(after, after + span, ops, maxOps);
        expect(ranges[0]!.after).toBe(after);
        expect(ranges.at(-1)!.upTo).toBe(after + span);
        expect(ranges.length).toBeLessThanOrEqual(16);
        ranges.forEach((r, i) => {
          expect(r.upTo).toBeGreaterThan(r.after - (span === 0 ? 1 : 0));
          if (i > 0) expect(r.after).toBe(ranges[i - 1]!.upTo);
        });
      }),
    );
  });
});

describe('diffKey and advanceState: a diff planned once for many clients', () => {
  // Clients over a few buckets and priorities; the round changes some of them.
  const buckets = ['a', 'b', 'c', 'd'];
  const held = fc.record({ position: fc.integer({ min: 0, max: 3 }), checksum: fc.integer({ min: 0, max: 1 }) });
  const client = fc.record({
    held: fc.subarray(buckets, { minLength: 1 }).chain((names) => fc.tuple(fc.constant(names), fc.array(held, { minLength: names.length, maxLength: names.length }))),
    priorities: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 4, maxLength: 4 }),
    writeCheckpoint: fc.option(fc.integer({ min: 1, max: 3 })),
  });
  const changedStates = fc.dictionary(fc.constantFrom(...buckets), fc.record({ lastOpId: fc.integer({ min: 0, max: 5 }), checksum: fc.integer({ min: 0, max: 1 }), count: fc.integer({ min: 0, max: 9 }), compactedOpId: fc.constant(0) }));

  function build(c: { held: [string[], Array<{ position: number; checksum: number }>]; priorities: number[]; writeCheckpoint: number | null }): { previous: StreamState; grants: Array<{ bucket: string; priority: number }> } {
    const [names, states] = c.held;
    const grants = names.map((bucket) => ({ bucket, priority: c.priorities[buckets.indexOf(bucket)]! }));
    const previous: StreamState = { lastOpId: 8, writeCheckpoint: c.writeCheckpoint, buckets: new Map(names.map((bucket, i) => [bucket, { priority: grants[i]!.priority, checksum: states[i]!.checksum, count: 1, position: states[i]!.position }])) };
    return { previous, grants };
  }
  const plan = (previous: StreamState, grants: Array<{ bucket: string; priority: number }>, changed: Map<string, BucketState>, wc: number | null) =>
    planDiff(previous, grants, new Map(grants.map((g) => [g.bucket, changed.get(g.bucket) ?? heldState(previous.buckets.get(g.bucket)!)])), 9, wc);

  it('advanceState is planDiff\'s next, and clients with the same key get the same lines (property)', () => {
    fc.assert(
      // The second client holds the same buckets, each anywhere near the first: keys often match.
      fc.property(client, fc.array(held, { minLength: 4, maxLength: 4 }), fc.boolean(), changedStates, fc.option(fc.integer({ min: 1, max: 3 })), fc.option(fc.integer({ min: 1, max: 3 })), (c1, near, sameHeld, dict, wc1, wc2) => {
        const changed = new Map(Object.entries(dict));
        const one = build(c1);
        const two = build({ ...c1, held: [c1.held[0], sameHeld ? c1.held[1] : c1.held[0].map((_, i) => near[i]!)], writeCheckpoint: wc2 === null ? c1.writeCheckpoint : wc2 === 1 ? null : wc2 });
        const k1 = diffKey(one.previous, one.grants, changed, wc1);
        const k2 = diffKey(two.previous, two.grants, changed, wc2);
        const p1 = plan(one.previous, one.grants, changed, wc1);
        expect(k1).toBeDefined();
        expect(advanceState(one.previous, changed, 9, wc1)).toEqual(p1.next);
        if (k1 === k2) {
          const p2 = plan(two.previous, two.grants, changed, wc2);
          // The lines: the plan, and the checkpoint and write checkpoint the diff line carries.
          expect({ ...p2, next: undefined }).toEqual({ ...p1, next: undefined });
          expect([p2.next.lastOpId, p2.next.writeCheckpoint]).toEqual([p1.next.lastOpId, p1.next.writeCheckpoint]);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('does not apply when the grants are not the buckets held, or a priority moved', () => {
    const previous: StreamState = { lastOpId: 1, writeCheckpoint: null, buckets: new Map([['a', { priority: 1, checksum: 0, count: 0, position: 1 }]]) };
    expect(diffKey(previous, [{ bucket: 'a', priority: 1 }, { bucket: 'b', priority: 1 }], new Map(), null)).toBeUndefined();
    expect(diffKey(previous, [{ bucket: 'b', priority: 1 }], new Map(), null)).toBeUndefined();
    expect(diffKey(previous, [{ bucket: 'a', priority: 2 }], new Map(), null)).toBeUndefined();
    expect(diffKey(previous, [{ bucket: 'a', priority: 1 }], new Map(), null)).toBeDefined();
  });
});
