import { expect, signIn, test } from '@/lib/sync/testing';

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
