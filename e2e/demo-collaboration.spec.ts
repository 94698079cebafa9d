import { expect, test } from '@/lib/sync/testing';
import { addTodo, openAs, openList, seedList, signInToDemo, todoList } from './demo-helpers';

test('two users editing one list at once each see the other within a second', async ({ page, browser, baseURL, sql }) => {
  const list = await seedList(sql, { name: 'Camping', owner: 'alice', members: ['bob'], todos: ['Pack the tent'] });
  await signInToDemo(page, 'alice');
  await openList(page, list.name);
  const bob = await openAs(browser, baseURL, 'bob');
  await openList(bob.page, list.name);

  // A first round trip each way warms the connections (server action, stream) up.
  await addTodo(page, 'Alice: hello');
  await expect(todoList(bob.page)).toContainText('Alice: hello');
  await addTodo(bob.page, 'Bob: hello');
  await expect(todoList(page)).toContainText('Bob: hello');

  // Both add at the same time; each sees the other's within a second of making their own.
  await Promise.all([addTodo(page, 'Alice: sleeping bags'), addTodo(bob.page, 'Bob: stove')]);
  await expect(todoList(bob.page)).toContainText('Alice: sleeping bags', { timeout: 1_000 });
  await expect(todoList(page)).toContainText('Bob: stove', { timeout: 1_000 });

  // Both change the same todo, different columns: last write wins per column, so both stick.
  await Promise.all([
    page.getByRole('checkbox', { name: 'Done: Pack the tent' }).check(),
    (async () => {
      await bob.page.getByRole('button', { name: 'Edit Pack the tent', exact: true }).click();
      await bob.page.getByLabel('Edit todo').fill('Pack the tent and pegs');
      await bob.page.getByRole('button', { name: 'Save' }).click();
    })(),
  ]);
  // Convergence, not latency: both pages end on the server's row.
  for (const p of [page, bob.page]) {
    await expect(p.getByRole('checkbox', { name: 'Done: Pack the tent and pegs' })).toBeChecked({ timeout: 10_000 });
  }

  // Postgres holds both columns' winners.
  await expect
    .poll(async () => (await sql.query<{ completed: boolean }>("SELECT completed FROM todos WHERE list_id = $1 AND description = 'Pack the tent and pegs'", [list.id]))[0]?.completed)
    .toBe(true);
  await bob.context.close();
});

test('sharing by email, then removing the member: the list appears on their device, then disappears from it', async ({ page, browser, baseURL, sql }) => {
  const list = await seedList(sql, { name: 'Pantry', owner: 'alice', todos: ['Oat milk'] });
  await signInToDemo(page, 'alice');
  const carol = await openAs(browser, baseURL, 'carol');
  await expect(carol.page.getByRole('list', { name: 'Lists' })).not.toContainText(list.name);

  await openList(page, list.name);
  await page.getByLabel('Share with (email)').fill('carol@example.com');
  await page.getByRole('button', { name: 'Share', exact: true }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Shared with carol@example.com' })).toBeVisible();
  await expect(carol.page.getByRole('list', { name: 'Lists' })).toContainText(list.name);
  await openList(carol.page, list.name);
  await expect(todoList(carol.page)).toContainText('Oat milk');

  await page.getByRole('button', { name: 'Remove carol@example.com' }).click();
  await expect(carol.page.getByText('This list is not on this device')).toBeVisible();
  // The overview reads Carol's local database: the list is gone from it, not just hidden.
  await carol.page.getByRole('link', { name: '← All lists' }).click();
  await expect(carol.page.getByRole('list', { name: 'Lists' })).not.toContainText(list.name);
  await carol.context.close();
});
