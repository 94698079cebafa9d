import { expect, goOffline, goOnline, test, waitForSync } from '@/lib/sync/testing';
import { addTodo, openList, seedList, signInToDemo, todoList } from './demo-helpers';

test('a write the server rejects is undone and shown in the rejected-writes panel', async ({ page, context, sql }) => {
  const list = await seedList(sql, { name: 'Band practice', owner: 'alice', members: ['bob'], todos: ['Book the room'] });
  await signInToDemo(page, 'bob');
  await openList(page, list.name);

  // Bob adds a todo offline; meanwhile Alice takes him off the list, so the server refuses it.
  await goOffline(context);
  await addTodo(page, 'Bring the guitar');
  await sql.query("DELETE FROM list_members WHERE list_id = $1 AND user_id = (SELECT id FROM users WHERE email = 'bob@example.com')", [list.id]);
  await goOnline(context);

  const panel = page.getByRole('region', { name: 'Rejected writes' });
  await expect(panel).toContainText('PUT todos', { timeout: 30_000 });
  await expect(panel).toContainText('UPLOAD_FORBIDDEN');
  await waitForSync(page);
  // Reverted: the todo (and the list Bob lost) are gone locally, and nothing reached Postgres.
  await expect(todoList(page)).toHaveCount(0);
  await expect(page.getByText('This list is not on this device')).toBeVisible();
  expect(await sql.query("SELECT 1 FROM todos WHERE description = 'Bring the guitar'")).toEqual([]);
});
