import { expect, goOffline, goOnline, test, waitForSync } from '@/lib/sync/testing';
import { addTodo, deleteTodo, editTodo, expectReadyOffline, openAs, openList, seedList, signInToDemo, todoList } from './demo-helpers';

test('offline: todos added, edited, completed and deleted survive an offline reload, then reach Postgres and the other user', async ({ page, context, browser, baseURL, sql }) => {
  const trip = await seedList(sql, { name: 'Trip', owner: 'alice', members: ['bob'], todos: ['Book the cabin', 'Pack the tent', 'Check the weather'] });
  await signInToDemo(page, 'alice');
  await openList(page, trip.name);
  await expectReadyOffline(page);
  const bob = await openAs(browser, baseURL, 'bob');
  await openList(bob.page, trip.name);

  await goOffline(context);
  await expect(page.getByRole('region', { name: 'Sync status' })).toContainText('Offline');
  // The network really is gone for this page.
  expect(await page.evaluate(() => fetch('/api/sync/token').then(() => 'reached', () => 'unreachable'))).toBe('unreachable');

  await addTodo(page, 'Buy gas');
  await editTodo(page, 'Pack the tent', 'Pack the big tent');
  await page.getByRole('checkbox', { name: 'Done: Check the weather' }).check();
  await deleteTodo(page, 'Book the cabin');
  await expect(page.getByTestId('status-pending')).not.toHaveText('Pending uploads: 0');

  // A reload with no network: the service worker serves the page, OPFS the rows and the queue.
  const response = await page.reload();
  expect(response?.fromServiceWorker()).toBe(true);
  await expect(page.getByRole('heading', { name: trip.name, level: 2 })).toBeVisible();
  await expect(todoList(page)).toContainText('Buy gas');
  await expect(todoList(page)).toContainText('Pack the big tent');
  await expect(page.getByRole('checkbox', { name: 'Done: Check the weather' })).toBeChecked();
  await expect(todoList(page).getByText('Book the cabin', { exact: true })).toHaveCount(0);
  // Bob has seen none of it.
  await expect(todoList(bob.page)).toContainText('Book the cabin');
  await expect(todoList(bob.page)).not.toContainText('Buy gas');

  await goOnline(context);
  await waitForSync(page);
  const rows = await sql.query<{ description: string; completed: boolean }>(
    'SELECT description, completed FROM todos WHERE list_id = $1 ORDER BY description',
    [trip.id],
  );
  expect(rows).toEqual([
    { description: 'Buy gas', completed: false },
    { description: 'Check the weather', completed: true },
    { description: 'Pack the big tent', completed: false },
  ]);

  // Live on Bob's open page, with no reload.
  await expect(todoList(bob.page)).toContainText('Buy gas');
  await expect(todoList(bob.page)).toContainText('Pack the big tent');
  await expect(bob.page.getByRole('checkbox', { name: 'Done: Check the weather' })).toBeChecked();
  await expect(todoList(bob.page).getByText('Book the cabin', { exact: true })).toHaveCount(0);
  await bob.context.close();
});
