import { expect, type Page } from '@playwright/test';

export const demo = {
  alice: { email: 'alice@example.com', password: 'alice-password' },
  bob: { email: 'bob@example.com', password: 'bob-password' },
} as const;

/** Signs in with next-auth credentials and lands on /sync-playground. */
export async function signIn(page: Page, user: { email: string; password: string }): Promise<void> {
  await page.goto('/signin?callbackUrl=/sync-playground');
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/sync-playground');
}

/** Waits until the playground shows a synced, persistent database. */
export async function expectSynced(page: Page, storage = 'opfs-sahpool'): Promise<void> {
  await expect(page.getByTestId('status-has-synced')).toHaveText('true', { timeout: 30_000 });
  await expect(page.getByTestId('status-storage')).toHaveText(storage);
}

/** Collects the page's uncaught errors and console errors (assert it stays empty). */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // A missing favicon is the app's business, not the sync client's.
    if (m.type() === 'error' && !m.location().url.endsWith('/favicon.ico')) errors.push(`console: ${m.text()} (${m.location().url})`);
  });
  return errors;
}
