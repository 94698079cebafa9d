import { UploadLimits } from '@/lib/sync/protocol';
import { expect, signIn, test, waitForSync } from '@/lib/sync/testing';
import { TESTING_GLOBAL, type TestingHandle } from '@/lib/sync/testing/contract';

test('a transaction near the upload limit goes through the server action; one past it is rejected, not retried forever', async ({ page, sql }) => {
  test.setTimeout(120_000);
  await signIn(page, 'alice@example.com', 'alice-password');
  await page.goto('/');
  await waitForSync(page);
  const local = (method: 'query' | 'execute', query: string, params: unknown[]) =>
    page.evaluate(([name, m, q, p]) => (window as unknown as Record<string, TestingHandle>)[name as string]![m as 'query'](q as string, p as unknown[]), [TESTING_GLOBAL, method, query, params] as const);
  const pending = () => page.evaluate((name) => (window as unknown as Record<string, TestingHandle>)[name]!.pendingUploads(), TESTING_GLOBAL);
  const [list] = await sql.query<{ id: string }>("SELECT l.id FROM lists l JOIN users u ON u.id = l.owner_id WHERE u.email = 'alice@example.com' ORDER BY l.name LIMIT 1");
  const insert = (id: string, description: string) => local('execute', 'INSERT INTO todos (id, list_id, description, completed, created_at) VALUES (?, ?, ?, 0, ?)', [id, list!.id, description, new Date().toISOString()]);

  // A row 500 bytes under UploadLimits.maxBatchBytes: the request's JSON is just under the
  // server's limit, and goes through the real server action and Next.js's action body limit.
  const near = crypto.randomUUID();
  await insert(near, 'n'.repeat(UploadLimits.maxBatchBytes - 500));
  await expect.poll(() => pending(), { timeout: 60_000 }).toBe(0);
  expect(await sql.query<{ n: number }>('SELECT length(description) AS n FROM todos WHERE id = $1', [near])).toEqual([{ n: UploadLimits.maxBatchBytes - 500 }]);

  // Past the limit: rejected on the client with the server's code, undone locally, never sent.
  const over = crypto.randomUUID();
  await insert(over, 'o'.repeat(UploadLimits.maxBatchBytes));
  await expect.poll(() => pending(), { timeout: 30_000 }).toBe(0);
  expect(await local('query', 'SELECT id FROM todos WHERE id = ?', [over])).toEqual([]);
  expect(await sql.query('SELECT id FROM todos WHERE id = $1', [over])).toEqual([]);
  await waitForSync(page);
});
