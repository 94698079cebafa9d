/**
 * Preloaded into the Next server by bench/stream.ts (`NODE_OPTIONS=--require …` with
 * --expose-gc), so that the benchmark can ask the production server process itself what it
 * holds: on a `{ type: 'memory' }` message over the IPC channel the benchmark opened, it runs a
 * full GC and answers with process.memoryUsage() and the number of open sync streams of the
 * app's SyncServer (lib/sync/server/from-env.ts keeps it on globalThis); on `{ type: 'cpu' }`, with
 * the process's CPU time so far, its time in garbage collection and what its hub's rounds did
 * (SyncHub.roundCounts). Does nothing in a process
 * without an IPC channel. With BENCH_CPU_PROF=dir it also profiles the process (see below).
 * Plain CommonJS: it must load before Next, without tsx.
 */
/* global process, require */
'use strict';

/** Time spent in garbage collection so far, in ms: scavenges (young generation) and the rest (mark-compact and its incremental steps). */
const gcTime = { minorMs: 0, majorMs: 0 };
if (typeof process.send === 'function') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- plain CommonJS, loaded before Next
  const { PerformanceObserver, constants } = require('node:perf_hooks');
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) gcTime.minorMs += entry.duration;
      else gcTime.majorMs += entry.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  process.on('message', (message) => {
    if (message && message.type === 'cpu') {
      // The process's CPU time so far (user + system, µs): the benchmark takes the difference over a series.
      const { user, system } = process.cpuUsage();
      const hub = globalThis.lockstepSyncServer?.server.hub;
      process.send({ type: 'cpu', micros: user + system, rounds: hub?.roundCounts ? { ...hub.roundCounts } : undefined, gc: { ...gcTime } });
      return;
    }
    if (!message || message.type !== 'memory') return;
    const gc = globalThis.gc;
    if (typeof gc === 'function') {
      gc();
      gc();
    }
    const m = process.memoryUsage();
    const sync = globalThis.lockstepSyncServer;
    // The bare app of bench/next-floor keeps its open streams in a set of its own.
    const streams = sync ? sync.server.streamCount : (globalThis.lockstepBenchFloorStreams?.size ?? 0);
    // LOCKSTEP_BENCH_HEAP_DIR: also a heap snapshot at each measurement, named by the open streams
    // (compare two of them, e.g. in Chrome DevTools, to see what an idle stream holds).
    const dir = process.env.LOCKSTEP_BENCH_HEAP_DIR;
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- plain CommonJS, loaded before Next
    if (dir) require('node:v8').writeHeapSnapshot(require('node:path').join(dir, `next-${streams}-streams.heapsnapshot`));
    process.send({ type: 'memory', rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, streams });
  });
  // The channel must not keep the server alive on its own.
  if (process.channel) process.channel.unref();
}

// BENCH_CPU_PROF=dir: a CPU profile of the whole server process, written when it exits
// (dir/next-<pid>.cpuprofile; --cpu-prof itself is not allowed in NODE_OPTIONS).
if (process.env.BENCH_CPU_PROF) {
  /* eslint-disable @typescript-eslint/no-require-imports -- plain CommonJS, loaded before Next */
  const inspector = require('node:inspector');
  const fs = require('node:fs');
  const path = require('node:path');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const session = new inspector.Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.start');
  // Posts to an in-process session are answered synchronously, so this runs to the end in 'exit'.
  process.once('exit', () => {
    session.post('Profiler.stop', (error, result) => {
      if (error) return;
      fs.mkdirSync(process.env.BENCH_CPU_PROF, { recursive: true });
      fs.writeFileSync(path.join(process.env.BENCH_CPU_PROF, `next-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
