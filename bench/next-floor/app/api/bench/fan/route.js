/**
 * Hands one chunk to every open stream of /api/sync/stream: a checkpoint's lines for one new row,
 * of the size the sync route sends, holding the marker `?mark=`. 50 streams at a time, the event
 * loop turning in between so their lines are written while the next are handed out (as the sync
 * route's rounds do).
 */
export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

const SLICE = 50;

export async function POST(request) {
  const mark = new URL(request.url).searchParams.get('mark') ?? 'none';
  const row = JSON.stringify({ id: crypto.randomUUID(), title: mark, body: 'bench', created_at: new Date().toISOString() });
  const lines = [
    { type: 'checkpoint_diff', last_op_id: '2', write_checkpoint: null, updated_buckets: [{ bucket: 'announcements[]', checksum: 123456789, count: 2, priority: 3 }], removed_buckets: [] },
    { type: 'data', bucket: 'announcements[]', after: '1', next_after: '2', has_more: false, ops: [{ op_id: '2', op: 'PUT', table: 'announcements', row_id: crypto.randomUUID(), data: row, checksum: 987654321 }] },
    { type: 'checkpoint_complete', last_op_id: '2' },
  ];
  const chunk = new TextEncoder().encode(lines.map((line) => `${JSON.stringify(line)}\n`).join(''));
  let handed = 0;
  for (const controller of globalThis.lockstepBenchFloorStreams ?? []) {
    try {
      if (controller.desiredSize > 0) controller.enqueue(chunk);
    } catch {
      // Closed meanwhile.
    }
    if (++handed % SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  return Response.json({ handed });
}
