import type { SyncClient } from '@/lib/sync/client/client';

/** What useLiveQuery returns: the latest result, the latest error, and whether the first result is still awaited. */
export interface LiveQuerySnapshot<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
}

/** The snapshot of a query that has not answered yet (also the server's). */
export const LOADING: LiveQuerySnapshot<never> = Object.freeze({ data: undefined, error: undefined, loading: true });

/**
 * One live query as an external store for React's useSyncExternalStore: while subscribed it runs
 * the query, listens to the tables it reads and runs it again when one of them changes. Re-runs
 * that pile up while one is in flight collapse into one. A result equal to the one shown keeps
 * the same snapshot, so React does not render again; a new one is a sync-lane update (rendered
 * in a microtask after the result arrives, not in a later scheduler task).
 */
export class LiveQueryStore<T> {
  private snapshot: LiveQuerySnapshot<T> = LOADING;
  private readonly listeners = new Set<() => void>();
  /** Set while subscribed: ends the table listener and makes results of runs in flight be dropped. */
  private stop: (() => void) | null = null;

  /**
   * @param run runs the query; the hook replaces it with each render's query object (same SQL and
   *   parameters), so the latest is the one run.
   */
  constructor(
    private readonly client: SyncClient,
    private readonly sql: string,
    public run: () => PromiseLike<T>,
  ) {}

  readonly getSnapshot = (): LiveQuerySnapshot<T> => this.snapshot;

  readonly subscribe = (onChange: () => void): (() => void) => {
    this.listeners.add(onChange);
    if (this.listeners.size === 1) this.start();
    return () => {
      this.listeners.delete(onChange);
      if (this.listeners.size === 0) {
        this.stop?.();
        this.stop = null;
      }
    };
  };

  private start(): void {
    let active = true;
    let running = false;
    let again = false;
    // Until the tables are known, any change may matter.
    let tables: Set<string> | null = null;

    const rerun = async () => {
      if (running) {
        again = true;
        return;
      }
      running = true;
      do {
        again = false;
        try {
          const data = await this.run();
          if (active) this.settle(data, undefined);
        } catch (error: unknown) {
          if (active) this.settle(undefined, error instanceof Error ? error : new Error(String(error)));
        }
      } while (again && active);
      running = false;
    };

    const unsubscribe = this.client.onTablesChanged((changed) => {
      if (tables === null || changed.some((t) => tables!.has(t))) void rerun();
    });
    this.client.tablesReadBy(this.sql).then(
      (read) => {
        tables = new Set(read);
      },
      () => {
        // The SQL does not prepare: the run reports the error.
      },
    );
    this.stop = () => {
      active = false;
      unsubscribe();
    };
    void rerun();
  }

  private settle(data: T | undefined, error: Error | undefined): void {
    const previous = this.snapshot;
    let next: LiveQuerySnapshot<T>;
    if (error) next = { data: previous.data, error, loading: false };
    else if (!previous.loading && previous.error === undefined && sameData(previous.data, data)) return;
    else next = { data, error: undefined, loading: false };
    this.snapshot = next;
    for (const listener of [...this.listeners]) listener();
  }
}

/**
 * Whether two query results hold the same values: rows as objects or arrays, nested as a Drizzle
 * relational query nests them, with SQLite's values (numbers, strings, null, bigints, blobs) and
 * Dates. Anything else counts as different (the result is then shown again, never hidden).
 */
export function sameData(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameData(a[i], b[i])) return false;
    return true;
  }
  if (a instanceof Uint8Array) {
    if (!(b instanceof Uint8Array) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (a instanceof Date) return b instanceof Date && Object.is(a.getTime(), b.getTime());
  if (!isPlainObject(a) || !isPlainObject(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) if (!Object.hasOwn(b, key) || !sameData(a[key], b[key])) return false;
  return true;
}

function isPlainObject(v: object): v is Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
