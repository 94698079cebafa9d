import { describe, expect, it } from 'vitest';
import { Batcher } from '../batcher';

describe('Batcher', () => {
  it('serves every call of one turn with one run, results in order', async () => {
    const runs: number[][] = [];
    const batcher = new Batcher<number, number>(async (xs) => {
      runs.push(xs);
      return xs.map((x) => x * 2);
    });
    const results = await Promise.all([1, 2, 3].map((x) => batcher.load(x)));
    expect(results).toEqual([2, 4, 6]);
    expect(runs).toEqual([[1, 2, 3]]);
    expect(await batcher.load(4)).toBe(8);
    expect(runs).toHaveLength(2);
  });

  it('splits a large turn into runs of at most maxBatch', async () => {
    const sizes: number[] = [];
    const batcher = new Batcher<number, number>(async (xs) => {
      sizes.push(xs.length);
      return xs;
    }, 10);
    await Promise.all(Array.from({ length: 25 }, (_, i) => batcher.load(i)));
    expect(sizes).toEqual([10, 10, 5]);
  });

  it('rejects every call of a failed run, synchronous throws included, and recovers', async () => {
    let fail = true;
    const batcher = new Batcher<number, number>((xs) => {
      if (fail) throw new Error('storage down');
      return Promise.resolve(xs);
    });
    const results = await Promise.allSettled([batcher.load(1), batcher.load(2)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect(await batcher.load(3)).toBe(3);
  });

  it('rejects when a run answers the wrong number of results', async () => {
    const batcher = new Batcher<number, number>(async () => [1]);
    await expect(Promise.all([batcher.load(1), batcher.load(2)])).rejects.toThrow(/2 requests/);
  });
});
