import { AsyncLocalStorage } from 'node:async_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSyncLine, type SyncLine } from '@/lib/sync/protocol';
import { Replica } from './client';
import { streamFixture, syncUntilComplete, type StreamFixture } from './harness';
import { detachedFromRequest, sessionBody } from '../stream/body';
import { StreamSession } from '../stream/session';
import { silentServerLogger } from '../log';

/**
 * A row every client receives: the hub's round hands each idle stream its lines straight into its
 * response body (session.deliver) instead of waking it. Each client must still get each checkpoint
 * whole, once, in order, also when its body's queue is full and the round falls back to waking it.
 */
describe('sync stream: fan-out of a round to idle streams', () => {
  let f: StreamFixture;

  beforeAll(async () => {
    f = await streamFixture({ keepaliveMs: 60_000 });
  });
  afterAll(async () => {
    await f?.close();
  });

  async function announce(title: string): Promise<void> {
    await f.replication.app.pool.query("INSERT INTO announcements (title, body, published) VALUES ($1, 'fan-out test', true)", [title]);
  }

  function titles(replica: Replica): string[] {
    const found: string[] = [];
    for (const [bucket, rows] of Object.entries(replica.contents())) {
      if (!bucket.startsWith('announcements')) continue;
      for (const data of Object.values(rows)) found.push((JSON.parse(data) as { title: string }).title);
    }
    return found.sort();
  }

  it('hands every idle client each commit as one whole checkpoint, commit after commit', async () => {
    const who = [f.users.alice, f.users.bob, f.users.carol];
    const clients = await Promise.all(Array.from({ length: 6 }, async (_, i) => ({ client: await f.open(await f.token(who[i % 3]!), { client_id: `fan-${i}` }), replica: new Replica() })));
    await Promise.all(clients.map(({ client, replica }) => syncUntilComplete(client, replica)));
    const before = { ...f.server.hub.roundCounts };
    const sent: string[] = [];
    for (let n = 0; n < 3; n++) {
      const title = `fan-out ${n}`;
      sent.push(title);
      await announce(title);
      for (const { client, replica } of clients) {
        // The diff, its data and its completion, nothing else in between (keepalives are a minute apart).
        const got: SyncLine[] = [];
        do got.push(await client.next());
        while (got.at(-1)!.type !== 'checkpoint_complete');
        for (const line of got) replica.apply(line);
        expect(checkpointShape(got)).toEqual(['checkpoint_diff', 'data', 'checkpoint_complete']);
        expect(titles(replica)).toEqual(expect.arrayContaining(sent));
      }
    }
    const after = f.server.hub.roundCounts;
    // The clients were idle: the rounds handed them their lines without waking them.
    expect(after.sent - before.sent).toBeGreaterThanOrEqual(clients.length * 3);
    for (const { client, replica } of clients) {
      expect(replica.contents()).toEqual(await f.expectedFor(who[clients.findIndex((c) => c.client === client) % 3]!));
      client.close();
    }
  });

  it('falls back to waking a stream whose body still holds a chunk, and keeps the order', async () => {
    const hub = f.server.hub;
    await hub.ready();
    const session = new StreamSession({ hub, claims: { sub: f.users.bob, exp: Math.floor(Date.now() / 1000) + 3_600 }, request: { client_id: 'fan-queue', buckets: [] }, log: silentServerLogger });
    const reader = sessionBody(session).getReader();
    const decoder = new TextDecoder();
    const lines: SyncLine[] = [];
    const read = async (): Promise<SyncLine[]> => {
      const { done, value } = await reader.read();
      if (done) throw new Error('the stream ended');
      const got = decoder.decode(value).split('\n').filter(Boolean).map(parseSyncLine);
      lines.push(...got);
      return got;
    };
    const replica = new Replica();
    // Through the first checkpoint; the stream then waits in its round with an empty queue.
    for (;;) {
      const got = await read();
      for (const line of got) replica.apply(line);
      if (got.some((l) => l.type === 'checkpoint_complete')) break;
    }
    const before = { ...hub.roundCounts };
    // Not read: the first commit is handed over and sits in the queue, the second finds it full.
    await announce('queued 1');
    await f.catchUp();
    await waitFor(() => hub.roundCounts.sent > before.sent);
    await announce('queued 2');
    await f.catchUp();
    await waitFor(() => hub.roundCounts.rounds > before.rounds + 1);
    const received: SyncLine[] = [];
    while (received.filter((l) => l.type === 'checkpoint_complete').length < 2) received.push(...(await read()));
    for (const line of received) replica.apply(line);
    expect(checkpointShape(received)).toEqual(['checkpoint_diff', 'data', 'checkpoint_complete', 'checkpoint_diff', 'data', 'checkpoint_complete']);
    expect(titles(replica)).toEqual(expect.arrayContaining(['queued 1', 'queued 2']));
    // The first handed over into the empty queue, the second woken to send its lines after it.
    expect(hub.roundCounts.sent - before.sent).toBe(1);
    expect(hub.roundCounts.woken - before.woken).toBe(1);
    await reader.cancel();
    expect(session.isClosed).toBe(true);
  });

  it('runs streams outside the async context of the request that opened them', async () => {
    const storage = new AsyncLocalStorage<{ request: string }>();
    const seen = await storage.run({ request: 'opening request' }, () =>
      detachedFromRequest(async () => {
        const inside = storage.getStore();
        await new Promise((resolve) => setTimeout(resolve, 1));
        const afterTimer = storage.getStore();
        await Promise.resolve();
        return [inside, afterTimer, storage.getStore()];
      }),
    );
    expect(seen).toEqual([undefined, undefined, undefined]);
    // And back in the request afterwards.
    storage.run({ request: 'r' }, () => {
      detachedFromRequest(() => undefined);
      expect(storage.getStore()).toEqual({ request: 'r' });
    });
  });
});

/** The types of `lines`, without the priorities' partial completions (their number follows the sync rules). */
function checkpointShape(lines: SyncLine[]): string[] {
  return lines.map((l) => l.type).filter((type) => type !== 'partial_checkpoint_complete');
}

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
