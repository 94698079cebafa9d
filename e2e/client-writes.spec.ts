import { expect, test, waitForSync } from '@/lib/sync/testing';
import { demo, expectSynced, signIn } from './client-helpers';

/** Server actions are POSTs to the page with a Next-Action header: refusing them is "the upload is unreachable". */
const isUpload = (request: { method(): string; headers(): Record<string, string> }) => request.method() === 'POST' && 'next-action' in request.headers();

test('a todo added offline survives a reload and reaches Postgres once back online', async ({ page, sql }) => {
  await signIn(page, demo.alice);
  await expectSynced(page);
  await waitForSync(page);

  // Offline for the sync client: no stream, no uploads (the page itself still loads).
  await page.route('**/*', (route) => (isUpload(route.request()) || route.request().url().includes('/api/sync/') ? route.abort() : route.continue()));
  const description = `Offline todo ${Date.now()}`;
  await page.getByTestId('new-todo').fill(description);
  await page.getByTestId('new-todo').press('Enter');
  await expect(page.getByTestId('todos')).toContainText(description);
  await expect(page.getByTestId('status-pending-uploads')).toHaveText('1');

  await page.reload();
  await expectSynced(page);
  await expect(page.getByTestId('todos')).toContainText(description);
  await expect(page.getByTestId('status-pending-uploads')).toHaveText('1');
  const rows = async () => (await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM todos WHERE description = $1', [description]))[0]!.n;
  expect(await rows()).toBe(0);

  await page.unrouteAll({ behavior: 'ignoreErrors' });
  await waitForSync(page, { timeoutMs: 45_000 });
  expect(await rows()).toBe(1);
  await expect(page.getByTestId('status-pending-uploads')).toHaveText('0');
  await expect(page.getByTestId('todos')).toContainText(description);
});
