/**
 * The baseline of bench/stream.ts's part 3 through `next start`: the same measurements on a bare
 * Next app (bench/next-floor/) whose stream route holds responses open with no sync code at all,
 * built and served by the same Next in the same run. What it shows is what any route handler
 * streaming through `next start` costs on this machine, whatever it streams:
 *  - the memory of the server process per idle stream (heap + external after a full GC, and RSS);
 *  - the time from a request asking it to hand a line to every stream (as a checkpoint's round
 *    does) to the line at each client, with the same clients (bench/fanout-client.ts).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { FanoutClient } from './fanout-client';
import { delaysSeen, quantile, startNextServer } from './stream-fixtures';

const APP_DIR = 'bench/next-floor';
const DIST_DIR = '.data/next-floor';

export interface NextFloor {
  clients: number;
  /** Per idle stream, in bytes. */
  heapPerStream: number;
  rssPerStream: number;
  /** ms from the hand-out request sent to the line at each client, every client of every hand-out. */
  fanout: number[];
  missing: number;
  /** CPU time of the server process per hand-out, per client, in µs. */
  serverCpuPerClient: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Builds bench/next-floor into .data/next-floor (~15 s); throws with Next's output when the build fails. */
export function buildNextFloor(): void {
  const result = spawnSync('node_modules/.bin/next', ['build', APP_DIR], {
    encoding: 'utf8',
    env: { ...process.env, LOCKSTEP_DIST_DIR: path.relative(APP_DIR, DIST_DIR), NEXT_TELEMETRY_DISABLED: '1' },
  });
  if (result.status !== 0) throw new Error(`next build ${APP_DIR} failed:\n${result.stdout}${result.stderr}`);
}

/**
 * Connects `clients` streams to the bare app, measures its memory per idle stream, then asks it
 * `handOuts` times, `gapMs` apart, to hand a marked line to every stream.
 */
export async function measureNextFloor(clients: number, handOuts: number, gapMs = 250): Promise<NextFloor> {
  buildNextFloor();
  const server = await startNextServer({}, path.relative(APP_DIR, DIST_DIR), APP_DIR);
  const open: FanoutClient[] = [];
  try {
    // A first stream and hand-out, so that the routes' first use is timed in neither part.
    const warm = new FanoutClient(['warm-']);
    await warm.open(server.port, 'none', 'warm-up');
    await fetch(`http://127.0.0.1:${server.port}/api/bench/fan?mark=warm-0-mark`, { method: 'POST' });
    warm.close();
    await sleep(500);
    const before = await server.memory();
    for (let i = 0; i < clients; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, clients - i) }, async (_, j) => {
          const client = new FanoutClient(['fan-']);
          open.push(client);
          await client.open(server.port, 'none', `client-${i + j}`);
        }),
      );
    }
    await sleep(2_000);
    const after = await server.memory();
    if (after.streams !== clients) throw new Error(`the bare app holds ${after.streams} streams, not ${clients}`);
    const sentAt = new Map<number, number>();
    const cpuBefore = await server.cpu();
    for (let n = 0; n < handOuts; n++) {
      sentAt.set(n, performance.now());
      const answer = await fetch(`http://127.0.0.1:${server.port}/api/bench/fan?mark=fan-${n}-mark`, { method: 'POST' });
      const { handed } = (await answer.json()) as { handed: number };
      if (handed !== clients) throw new Error(`the bare app handed the line to ${handed} streams, not ${clients}`);
      await sleep(gapMs);
    }
    await sleep(1_000);
    const cpuAfter = await server.cpu();
    const { delays: fanout, missing } = delaysSeen(open, sentAt);
    return {
      clients,
      heapPerStream: (after.heapUsed + after.external - before.heapUsed - before.external) / clients,
      rssPerStream: (after.rss - before.rss) / clients,
      fanout,
      missing,
      serverCpuPerClient: (cpuAfter.micros - cpuBefore.micros) / handOuts / clients,
    };
  } finally {
    for (const client of open) client.close();
    await server.stop();
  }
}

/** A one-line summary of the floor's fan-out latencies. */
export function floorLatency(floor: NextFloor): string {
  return `p50 ${quantile(floor.fanout, 0.5).toFixed(1)} ms, p99 ${quantile(floor.fanout, 0.99).toFixed(1)} ms`;
}
