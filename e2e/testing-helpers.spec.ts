import { randomUUID } from 'node:crypto';
import { expect, signIn, test, waitForSync } from '@/lib/sync/testing';
import { TESTING_GLOBAL, type TestingHandle } from '@/lib/sync/testing/contract';

test('the testing helpers reach the server under test: SQL on both databases, sign-in, replication', async ({ page, sql }) => {
  const [alice] = await sql.query<{ id: string }>("SELECT id FROM users WHERE email = 'alice@example.com'");
  await sql.query("INSERT INTO lists (name, owner_id) VALUES ('Made by SQL', $1)", [alice!.id]);
  const checkpoint = await sql.replicated();
  expect(BigInt(checkpoint)).toBeGreaterThan(0n);
  const ops = await sql.storage<{ n: number }>("SELECT count(*)::int AS n FROM lockstep.ops WHERE data LIKE '%Made by SQL%'");
  expect(ops[0]!.n).toBeGreaterThan(0);

  await signIn(page, 'alice@example.com', 'alice-password');
  await page.goto('/');
  await expect(page.getByTestId('lists')).toContainText('Made by SQL');
});

test('waitForSync waits for this page\'s own checkpoint, also when other users made newer ones, and includes rows written with sql', async ({ page, sql }) => {
  await signIn(page, 'carol@example.com', 'carol-password');
  await page.goto('/');
  await waitForSync(page);
  const local = (query: string, params: unknown[]) => page.evaluate(([name, q, p]) => (window as unknown as Record<string, TestingHandle>)[name as string]!.query(q as string, p as unknown[]), [TESTING_GLOBAL, query, params] as const);

  // A list only Alice syncs: storage gets a newer checkpoint that Carol's buckets don't change.
  const [alice] = await sql.query<{ id: string }>("SELECT id FROM users WHERE email = 'alice@example.com'");
  await sql.query('INSERT INTO lists (name, owner_id) VALUES ($1, $2)', [`Alice only ${randomUUID()}`, alice!.id]);
  await sql.replicated();
  await waitForSync(page, { timeoutMs: 15_000 });

  // A list of Carol's, written straight to Postgres: in the local database once waitForSync returns.
  const [carol] = await sql.query<{ id: string }>("SELECT id FROM users WHERE email = 'carol@example.com'");
  const name = `Carol by SQL ${randomUUID()}`;
  await sql.query('INSERT INTO lists (name, owner_id) VALUES ($1, $2)', [name, carol!.id]);
  await waitForSync(page, { timeoutMs: 15_000 });
  expect(await local('SELECT name FROM lists WHERE name = ?', [name])).toEqual([{ name }]);
});
