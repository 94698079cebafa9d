/**
 * A stream as bare as a route handler can make it: one line that completes the client's first
 * checkpoint, then the response stays open and takes whatever lines /api/bench/fan hands it. The
 * same path and first line as the sync route, so bench/fanout-client.ts connects to either.
 */
export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

/** The open streams' controllers; bench/next-probe.cjs counts them. */
const streams = (globalThis.lockstepBenchFloorStreams ??= new Set());
const FIRST = new TextEncoder().encode('{"type":"checkpoint_complete","last_op_id":"0"}\n');

export async function POST(request) {
  await request.text();
  let controller;
  const body = new ReadableStream(
    {
      start(c) {
        controller = c;
        streams.add(c);
        c.enqueue(FIRST);
      },
      cancel() {
        streams.delete(controller);
      },
    },
    { highWaterMark: 1 },
  );
  request.signal.addEventListener('abort', () => streams.delete(controller), { once: true });
  return new Response(body, { headers: { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store, no-transform' } });
}
