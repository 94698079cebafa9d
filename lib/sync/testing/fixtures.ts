import { test as base, expect, type BrowserContext, type Page } from '@playwright/test';
import { TESTING_GLOBAL, type TestingHandle } from './contract';
import { testSql, type TestSql } from './database';

/** Signs in through the app's /signin form (next-auth credentials) and waits for the redirect. */
export async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.goto('/signin');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname !== '/signin');
}

/** Cuts the network of every page of the context, as airplane mode would. */
export async function goOffline(context: BrowserContext): Promise<void> {
  await context.setOffline(true);
}

export async function goOnline(context: BrowserContext): Promise<void> {
  await context.setOffline(false);
}

/**
 * Waits until the page has no pending uploads and holds a checkpoint at or past the server's
 * latest, after the replicator has taken in everything committed before the call (so writes made
 * with `sql` just before are included).
 */
export async function waitForSync(page: Page, sql: TestSql, options: { timeoutMs?: number } = {}): Promise<void> {
  const timeout = options.timeoutMs ?? 30_000;
  // Uploads first: they may produce the very changes the next checkpoint carries.
  await expect.poll(() => page.evaluate((name) => (window as unknown as Record<string, TestingHandle | undefined>)[name]?.pendingUploads() ?? -1, TESTING_GLOBAL), { timeout }).toBe(0);
  const latest = BigInt(await sql.replicated(timeout));
  await expect
    .poll(async () => {
      const held = await page.evaluate((name) => (window as unknown as Record<string, TestingHandle | undefined>)[name]?.checkpoint() ?? null, TESTING_GLOBAL);
      return held !== null && BigInt(held) >= latest;
    }, { timeout, message: `the page to apply checkpoint ${latest}` })
    .toBe(true);
}

export interface LockstepFixtures {
  /** SQL on the e2e server's app database and bucket storage. */
  sql: TestSql;
}

/**
 * Playwright's `test` with Lockstep's fixtures.
 *
 * @example
 *   import { test, expect, signIn, goOffline, waitForSync } from '@/lib/sync/testing';
 *   test('works offline', async ({ page, context, sql }) => { await signIn(page, 'alice@example.com', 'alice-password'); ... });
 */
export const test = base.extend<LockstepFixtures>({
  // eslint-disable-next-line no-empty-pattern
  sql: async ({}, use) => {
    const sql = testSql();
    await use(sql);
    await sql.close();
  },
});

export { expect };
