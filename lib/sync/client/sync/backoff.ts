/** Reconnect delays: exponential, capped, with jitter (so many clients do not come back in step). */
export interface BackoffOptions {
  /** Ceiling of the first delay (ms). */
  minMs: number;
  /** Largest delay (ms). */
  maxMs: number;
  random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { minMs: 500, maxMs: 30_000 };

export class Backoff {
  private attempt = 0;

  constructor(private readonly options: BackoffOptions = DEFAULT_BACKOFF) {}

  /** The next delay: uniform in [ceiling/2, ceiling], the ceiling doubling per failure up to maxMs. */
  next(): number {
    const ceiling = Math.min(this.options.maxMs, this.options.minMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    const random = this.options.random ?? Math.random;
    return Math.round(ceiling / 2 + (random() * ceiling) / 2);
  }

  /** After a success (a checkpoint applied): the next failure starts from the first delay again. */
  reset(): void {
    this.attempt = 0;
  }

  get failures(): number {
    return this.attempt;
  }
}
