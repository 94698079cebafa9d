/**
 * The sync endpoint in a process of its own, for bench/stream.ts: the same SyncServer the route
 * handlers use, served by node:http through toNodeListener (what Next's Node runtime does for a
 * route handler). Reports its memory over IPC, after a full GC, so the benchmark can measure
 * what each idle stream costs without counting the clients.
 *
 * Env: DATABASE_URL, SYNC_DATABASE_URL, SYNC_JWT_SECRET. Run with --expose-gc.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import syncConfig from '@/sync.config';
import { compileSyncRules } from '@/lib/sync/config';
import { SyncPath } from '@/lib/sync/protocol';
import { consoleLogger, secretAuth, SyncServer, toNodeListener } from '@/lib/sync/server';

export type ServerMessage =
  | { type: 'listening'; port: number }
  | { type: 'memory'; rss: number; heapUsed: number; external: number; arrayBuffers: number; streams: number }
  /** The process's CPU time so far (user + system), in µs, and what the hub's rounds did so far (SyncHub.roundCounts). */
  | { type: 'cpu'; micros: number; rounds?: RoundCounts; gc?: GcTime };

/** Time spent in garbage collection so far, in ms: scavenges (young generation) and the rest (mark-compact and its incremental steps). */
export type GcTime = { minorMs: number; majorMs: number };

/** SyncHub.roundCounts; the slice figures are absent from servers built before they were counted. */
export type RoundCounts = { rounds: number; sent: number; woken: number; readMs: number; handMs: number; firstSliceMs?: number; slicedRounds?: number; lookupsRead?: number; catchingUp?: number };

const server = new SyncServer({
  rules: compileSyncRules(syncConfig),
  storageUrl: process.env.SYNC_DATABASE_URL!,
  sourceUrl: process.env.DATABASE_URL!,
  auth: secretAuth(process.env.SYNC_JWT_SECRET!),
  log: { info() {}, warn: consoleLogger.warn, error: consoleLogger.error },
  // BENCH_PAGE_OPS / BENCH_PAGE_BYTES try other page bounds than the defaults.
  page: {
    ...(process.env.BENCH_PAGE_OPS ? { maxOps: Number(process.env.BENCH_PAGE_OPS) } : {}),
    ...(process.env.BENCH_PAGE_BYTES ? { maxBytes: Number(process.env.BENCH_PAGE_BYTES) } : {}),
  },
});

const httpServer = http.createServer(
  { keepAlive: true },
  toNodeListener(async (request) => (new URL(request.url).pathname === SyncPath.stream && request.method === 'POST' ? server.stream(request) : new Response('not found', { status: 404 }))),
);
httpServer.maxConnections = 20_000;
// Streams are long-lived; no request or header timeout may cut them.
httpServer.requestTimeout = 0;
httpServer.headersTimeout = 60_000;

const send = (message: ServerMessage) => process.send!(message);

const gcTime: GcTime = { minorMs: 0, majorMs: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if ((entry as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) gcTime.minorMs += entry.duration;
    else gcTime.majorMs += entry.duration;
  }
}).observe({ entryTypes: ['gc'] });

process.on('message', (message: { type: string }) => {
  if (message.type === 'memory') {
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    gc?.();
    const m = process.memoryUsage();
    send({ type: 'memory', rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, streams: server.streamCount });
  } else if (message.type === 'cpu') {
    const { user, system } = process.cpuUsage();
    send({ type: 'cpu', micros: user + system, rounds: { ...server.hub.roundCounts }, gc: { ...gcTime } });
  } else if (message.type === 'stop') {
    httpServer.closeAllConnections();
    httpServer.close();
    void server.close().finally(() => process.exit(0));
  }
});

httpServer.listen(0, '127.0.0.1', () => {
  void server.hub.ready().then(() => send({ type: 'listening', port: (httpServer.address() as AddressInfo).port }));
});
