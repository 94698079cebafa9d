import { expect, test } from '@playwright/test';
import pg from 'pg';
import { collectErrors, demo, expectSynced, signIn } from './client-helpers';

/** The e2e server's database (playwright.config.ts: its own cluster on LOCKSTEP_E2E_PG_PORT). */
const databaseUrl = process.env.DATABASE_URL ?? `postgres://postgres:lockstep@127.0.0.1:${process.env.LOCKSTEP_E2E_PG_PORT ?? '54339'}/lockstep_e2e`;

async function addTodo(listName: string, description: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('INSERT INTO todos (list_id, description) SELECT id, $2 FROM lists WHERE name = $1', [listName, description]);
  } finally {
    await client.end();
  }
}

test('two tabs share one sync connection, both update live, and closing the leader hands over', async ({ context }) => {
  let streams = 0;
  await context.route('**/api/sync/stream', (route) => {
    streams++;
    return route.continue();
  });

  const first = await context.newPage();
  const errors = collectErrors(first);
  await signIn(first, demo.alice);
  await expectSynced(first);
  await expect(first.getByTestId('status-leader')).toHaveText('true');

  const second = await context.newPage();
  errors.push(...collectErrors(second));
  await second.goto('/sync-playground');
  await expectSynced(second);
  await expect(second.getByTestId('status-leader')).toHaveText('false');
  await expect(second.getByTestId('lists')).toContainText('Groceries');
  expect(streams).toBe(1);

  const live = `Live in both tabs ${Date.now()}`;
  await addTodo('Groceries', live);
  await expect(first.getByTestId('todos')).toContainText(live, { timeout: 15_000 });
  await expect(second.getByTestId('todos')).toContainText(live, { timeout: 15_000 });
  expect(streams).toBe(1);

  // The leader tab goes away: the other takes the database and the connection over.
  await first.close();
  await expect(second.getByTestId('status-leader')).toHaveText('true', { timeout: 15_000 });
  await expect(second.getByTestId('status-storage')).toHaveText('opfs-sahpool', { timeout: 15_000 });
  const after = `After the handover ${Date.now()}`;
  await addTodo('Groceries', after);
  await expect(second.getByTestId('todos')).toContainText(after, { timeout: 15_000 });
  await expect(second.getByTestId('todos')).toContainText(live);
  expect(streams).toBe(2);
  expect(errors).toEqual([]);
});
