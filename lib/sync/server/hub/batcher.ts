/**
 * Serves every call made in the same turn of the event loop with one call of `run`. One
 * checkpoint wakes every stream of the process at once; each asks for its own buckets, parameter
 * lookups and write checkpoint, and the database sees one query per kind instead of one per stream.
 */
export class Batcher<Request, Result> {
  private queue: Array<{ request: Request; resolve: (result: Result) => void; reject: (error: unknown) => void }> = [];
  private scheduled = false;

  /**
   * @param run answers a batch, one result per request in the same order.
   * @param maxBatch the most requests one run receives; a larger queue is split.
   */
  constructor(
    private readonly run: (requests: Request[]) => Promise<Result[]>,
    private readonly maxBatch = 1_000,
  ) {}

  /** Queues a request; its batch runs once the current turn of the event loop has ended. */
  load(request: Request): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const queue = this.queue;
    this.queue = [];
    for (let start = 0; start < queue.length; start += this.maxBatch) {
      const part = queue.slice(start, start + this.maxBatch);
      let pending: Promise<Result[]>;
      try {
        pending = this.run(part.map((entry) => entry.request));
      } catch (error: unknown) {
        pending = Promise.reject(error);
      }
      pending.then(
        (results) => {
          if (results.length !== part.length) throw new Error(`batch returned ${results.length} results for ${part.length} requests`);
          part.forEach((entry, i) => entry.resolve(results[i]!));
        },
      ).catch((error: unknown) => part.forEach((entry) => entry.reject(error)));
    }
  }
}

/** Groups items by a key, keeping each group's items in their original order. */
export function groupBy<T, K>(items: readonly T[], key: (item: T) => K): Map<K, Array<{ item: T; index: number }>> {
  const groups = new Map<K, Array<{ item: T; index: number }>>();
  items.forEach((item, index) => {
    const k = key(item);
    let group = groups.get(k);
    if (!group) groups.set(k, (group = []));
    group.push({ item, index });
  });
  return groups;
}
