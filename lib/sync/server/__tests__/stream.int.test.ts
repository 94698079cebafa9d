import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, SyncHeader } from '@/lib/sync/protocol';
import { Replica } from './client';
import { streamFixture, syncUntilComplete, userBuckets, type StreamFixture } from './harness';

let f: StreamFixture;

beforeAll(async () => {
  f = await streamFixture({ page: { maxOps: 3, maxBytes: 1 << 20 } }); // tiny pages: every bucket spans several
});
afterAll(async () => {
  await f?.close();
});

describe('sync stream: first sync and resume', () => {
  it('sends a checkpoint, each bucket in pages, priorities in order, then checkpoint_complete', async () => {
    const client = await f.open(await f.token(f.users.alice), { client_id: 'alice-1' });
    expect(client.status).toBe(200);
    const replica = new Replica();
    await syncUntilComplete(client, replica);
    client.close();

    const types = client.lines.map((l) => l.type);
    expect(types[0]).toBe('token_expires_in');
    expect(types[1]).toBe('checkpoint');
    expect(types.at(-1)).toBe('checkpoint_complete');

    // Buckets are listed higher priority first: me (0), the lists (1), announcements (3).
    const checkpoint = client.lines[1]!;
    if (checkpoint.type !== 'checkpoint') throw new Error('unreachable');
    expect(checkpoint.buckets.map((b) => b.priority)).toEqual([...checkpoint.buckets.map((b) => b.priority)].sort());
    expect(new Set(checkpoint.buckets.map((b) => b.bucket))).toEqual(await userBuckets(f.replication.app.pool, f.users.alice));

    // Data of each priority comes before that priority's partial_checkpoint_complete.
    const partials = client.lines.flatMap((l, i) => (l.type === 'partial_checkpoint_complete' ? [{ i, priority: l.priority }] : []));
    expect(partials.map((p) => p.priority)).toEqual([0, 1]);
    const priorityOf = new Map(checkpoint.buckets.map((b) => [b.bucket, b.priority]));
    client.lines.forEach((line, i) => {
      if (line.type !== 'data') return;
      const p = priorityOf.get(line.bucket)!;
      for (const partial of partials) expect(partial.priority >= p ? i < partial.i : i > partial.i).toBe(true);
    });
    // Pages are bounded: 3 ops at most, has_more on all but each bucket's last.
    const pages = client.lines.filter((l) => l.type === 'data');
    expect(pages.every((p) => p.ops.length <= 3)).toBe(true);
    const bucketPages = new Map<string, typeof pages>();
    for (const p of pages) bucketPages.set(p.bucket, [...(bucketPages.get(p.bucket) ?? []), p]);
    for (const [bucket, its] of bucketPages) expect(its.map((p) => p.has_more), bucket).toEqual(its.map((_, i) => i < its.length - 1));

    expect(replica.contents()).toEqual(await f.expectedFor(f.users.alice));
  });

  it('never sends the password hash (the me bucket omits it)', async () => {
    const client = await f.open(await f.token(f.users.bob), { client_id: 'bob-1' });
    const replica = new Replica();
    await syncUntilComplete(client, replica);
    client.close();
    const me = Object.values(replica.contents()[`me${JSON.stringify([f.users.bob])}`] ?? {});
    expect(me).toHaveLength(1);
    expect(me[0]).toContain('bob@example.com');
    expect(me[0]).not.toMatch(/password|scrypt/);
  });

  it('resumes from the client positions: only ops after them are sent', async () => {
    const token = await f.token(f.users.alice);
    const first = await f.open(token, { client_id: 'alice-2' });
    const replica = new Replica();
    await syncUntilComplete(first, replica);
    first.close();

    const [groceries] = (await f.replication.app.pool.query<{ id: string }>("SELECT id FROM lists WHERE name = 'Groceries'")).rows;
    await f.replication.app.pool.query("INSERT INTO todos (list_id, description) VALUES ($1, 'Tea')", [groceries!.id]);
    await f.catchUp();

    const second = await f.open(token, { client_id: 'alice-2', buckets: replica.positions(), rules_version: replica.rulesVersion! });
    await syncUntilComplete(second, replica);
    second.close();
    const ops = second.lines.flatMap((l) => (l.type === 'data' ? l.ops : []));
    expect(ops).toHaveLength(1);
    expect(ops[0]!.data).toContain('"Tea"');
    expect(second.lines.filter((l) => l.type === 'data').map((l) => l.bucket)).toEqual([`list${JSON.stringify([groceries!.id])}`]);
    expect(replica.contents()).toEqual(await f.expectedFor(f.users.alice));
  });

  it('ignores positions from other sync rules (a different rules_version) and sends everything', async () => {
    const token = await f.token(f.users.carol);
    const first = await f.open(token, { client_id: 'carol-1' });
    const replica = new Replica();
    await syncUntilComplete(first, replica);
    first.close();
    const total = first.lines.flatMap((l) => (l.type === 'data' ? l.ops : [])).length;

    const second = await f.open(token, { client_id: 'carol-1', buckets: replica.positions(), rules_version: 'some-older-rules' });
    const fresh = new Replica();
    await syncUntilComplete(second, fresh);
    second.close();
    expect(second.lines.flatMap((l) => (l.type === 'data' ? l.ops : []))).toHaveLength(total);
    expect(second.lines.filter((l) => l.type === 'data').every((l) => l.after === '0' || l.has_more !== undefined)).toBe(true);
    expect(fresh.contents()).toEqual(await f.expectedFor(f.users.carol));
  });

  it('restarts a bucket whose position lies past the checkpoint, from 0', async () => {
    const token = await f.token(f.users.carol);
    const bucket = `me${JSON.stringify([f.users.carol])}`;
    const client = await f.open(token, { client_id: 'carol-2', buckets: [{ name: bucket, after: '999999999' }] });
    const replica = new Replica();
    await syncUntilComplete(client, replica);
    client.close();
    const pages = client.lines.filter((l) => l.type === 'data' && l.bucket === bucket);
    expect(pages[0]).toMatchObject({ after: '0' });
  });

  it('says has_more on every page of a bucket but its last, across the op id ranges a big bucket is read in', async () => {
    const [groceries] = (await f.replication.app.pool.query<{ id: string }>("SELECT id FROM lists WHERE name = 'Groceries'")).rows;
    await f.replication.app.pool.query("INSERT INTO todos (list_id, description) SELECT $1, 'Item ' || i FROM generate_series(1, 40) i", [groceries!.id]);
    await f.catchUp();
    const client = await f.open(await f.token(f.users.alice), { client_id: 'alice-ranges' });
    const replica = new Replica();
    await syncUntilComplete(client, replica);
    client.close();
    const bucket = `list${JSON.stringify([groceries!.id])}`;
    const pages = client.lines.filter((l) => l.type === 'data').filter((l) => l.bucket === bucket);
    // 40+ ops in pages of 3: read as several ranges (splitRange cuts from 4 pages a range).
    expect(pages.length).toBeGreaterThanOrEqual(14);
    expect(pages.map((p) => p.has_more)).toEqual(pages.map((_, i) => i < pages.length - 1));
    expect(replica.contents()).toEqual(await f.expectedFor(f.users.alice));
  });

  it('answers with the protocol version and ndjson headers', async () => {
    const client = await f.open(await f.token(f.users.bob), { client_id: 'bob-h' });
    await client.next('checkpoint');
    client.close();
    // StreamClient keeps no headers; a raw request checks them.
    const { request } = await import('./client');
    const res = await request(`${f.baseUrl}/api/sync/stream`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.headers[SyncHeader.protocol]).toBe(String(PROTOCOL_VERSION));
  });
});
