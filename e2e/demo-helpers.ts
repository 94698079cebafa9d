import { randomUUID } from 'node:crypto';
import { expect, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { signIn, type TestSql } from '@/lib/sync/testing';

/** The seeded demo accounts (lib/db/seed.ts). */
export const demoUsers = {
  alice: { email: 'alice@example.com', password: 'alice-password' },
  bob: { email: 'bob@example.com', password: 'bob-password' },
  carol: { email: 'carol@example.com', password: 'carol-password' },
} as const;

export type DemoUserName = keyof typeof demoUsers;

/** Signs in on the demo's home page and waits for the first checkpoint to show the lists. */
export async function signInToDemo(page: Page, who: DemoUserName): Promise<void> {
  await signIn(page, demoUsers[who].email, demoUsers[who].password);
  await expect(page.getByRole('region', { name: 'Sync status' })).toContainText('Up to date', { timeout: 30_000 });
}

/** A second user on their own browser context (their own cookies, OPFS and service worker). */
export async function openAs(browser: Browser, baseURL: string | undefined, who: DemoUserName): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  await signInToDemo(page, who);
  return { context, page };
}

/** Opens a list from the overview by its name. */
export async function openList(page: Page, name: string): Promise<void> {
  await page.getByRole('list', { name: 'Lists' }).getByRole('link', { name, exact: true }).click();
  await expect(page.getByRole('heading', { name, level: 2 })).toBeVisible();
}

/** The todos list of the open list page. */
export function todoList(page: Page) {
  return page.getByRole('list', { name: 'Todos' });
}

export async function addTodo(page: Page, description: string): Promise<void> {
  await page.getByLabel('New todo').fill(description);
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  await expect(todoList(page)).toContainText(description);
}

export async function editTodo(page: Page, from: string, to: string): Promise<void> {
  await page.getByRole('button', { name: `Edit ${from}`, exact: true }).click();
  await page.getByLabel('Edit todo').fill(to);
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(todoList(page)).toContainText(to);
}

export async function deleteTodo(page: Page, description: string): Promise<void> {
  await page.getByRole('button', { name: `Delete ${description}`, exact: true }).click();
  await expect(todoList(page).getByText(description, { exact: true })).toHaveCount(0);
}

/** Waits until the service worker controls the page and holds a copy of it for offline loads. */
export async function expectReadyOffline(page: Page): Promise<void> {
  await expect
    .poll(() => page.evaluate(async () => !!navigator.serviceWorker.controller && !!(await caches.match(new URL('/', location.origin).href))), { timeout: 15_000, message: 'the service worker to control the page and keep a copy of /' })
    .toBe(true);
}

/**
 * A list of the test's own, made in Postgres (so tests never depend on each other's changes to
 * the seed): owned by `owner`, shared with `members`, holding `todos`. Returns its id and name.
 */
export async function seedList(sql: TestSql, options: { name: string; owner: DemoUserName; members?: DemoUserName[]; todos?: string[] }): Promise<{ id: string; name: string }> {
  const name = `${options.name} ${randomUUID().slice(0, 6)}`;
  const idOf = async (who: DemoUserName) => (await sql.query<{ id: string }>('SELECT id FROM users WHERE email = $1', [demoUsers[who].email]))[0]!.id;
  const [list] = await sql.query<{ id: string }>('INSERT INTO lists (name, owner_id) VALUES ($1, $2) RETURNING id', [name, await idOf(options.owner)]);
  for (const member of options.members ?? []) await sql.query('INSERT INTO list_members (list_id, user_id) VALUES ($1, $2)', [list!.id, await idOf(member)]);
  for (const [i, description] of (options.todos ?? []).entries()) {
    await sql.query("INSERT INTO todos (list_id, description, created_at) VALUES ($1, $2, now() + make_interval(secs => $3))", [list!.id, description, i]);
  }
  return { id: list!.id, name };
}
