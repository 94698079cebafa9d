import { readdirSync, readFileSync } from 'node:fs';

/**
 * Waiting for the browser to go quiet before a timed run (bench/client.ts).
 *
 * A Chromium that has just started keeps working for a second or more after its first page has
 * loaded (measured here: 176% and 122% of a core in the two half-seconds after the page, then
 * under 6%). On a 2-core machine a first sync started then shares the cores with that work. A
 * user's browser is not starting up when they open the app, so the client benchmark waits, before
 * each timed run, until the browser's processes have been quiet for a while, and says how long
 * it waited. Linux only (it reads /proc); elsewhere it does not wait.
 */

export interface QuietOptions {
  /** Length of one sample window (default 250 ms). */
  windowMs?: number;
  /** Quiet means under this share of one core in a window (default 0.1). */
  maxCoreShare?: number;
  /** Consecutive quiet windows needed (default 2). */
  windows?: number;
  /** Give up waiting after this long (default 15 s): the run then goes ahead, marked as not quiet. */
  timeoutMs?: number;
}

export interface QuietResult {
  /** How long it waited, in ms. */
  waitedMs: number;
  /** False when the browser was still busy at the timeout, or its processes cannot be read (not Linux). */
  quiet: boolean;
}

const CLOCK_TICKS_PER_SECOND = 100;

/** CPU time (user + system, ms) of `root`'s descendants whose command is `name`, read from /proc. */
export function descendantsCpuMs(root: number, name: string): number {
  const stats = new Map<number, { ppid: number; comm: string; cpuMs: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // The process ended meanwhile.
    }
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split at the last ")".
    const close = text.lastIndexOf(')');
    const comm = text.slice(text.indexOf('(') + 1, close);
    const fields = text.slice(close + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    stats.set(Number(entry), { ppid: Number(fields[1]), comm, cpuMs: (ticks * 1000) / CLOCK_TICKS_PER_SECOND });
  }
  const children = new Map<number, number[]>();
  for (const [pid, { ppid }] of stats) {
    const siblings = children.get(ppid);
    if (siblings) siblings.push(pid);
    else children.set(ppid, [pid]);
  }
  let total = 0;
  const pending = [...(children.get(root) ?? [])];
  while (pending.length > 0) {
    const pid = pending.pop()!;
    const stat = stats.get(pid)!;
    if (stat.comm.includes(name)) total += stat.cpuMs;
    pending.push(...(children.get(pid) ?? []));
  }
  return total;
}

/**
 * Waits until the Chromium processes this process started have used less than `maxCoreShare` of
 * a core in each of `windows` consecutive windows.
 *
 * @example
 *   const { waitedMs } = await waitForQuietBrowser();
 */
export async function waitForQuietBrowser(options: QuietOptions = {}): Promise<QuietResult> {
  const { windowMs = 250, maxCoreShare = 0.1, windows = 2, timeoutMs = 15_000 } = options;
  const start = performance.now();
  const read = () => descendantsCpuMs(process.pid, 'chrom');
  let last: number;
  try {
    last = read();
  } catch {
    return { waitedMs: 0, quiet: false };
  }
  let quietWindows = 0;
  while (performance.now() - start < timeoutMs) {
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const now = read();
    quietWindows = now - last < windowMs * maxCoreShare ? quietWindows + 1 : 0;
    last = now;
    if (quietWindows >= windows) return { waitedMs: performance.now() - start, quiet: true };
  }
  return { waitedMs: performance.now() - start, quiet: false };
}
