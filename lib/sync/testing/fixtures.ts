import { test as base, expect, type BrowserContext, type Page } from '@playwright/test';
import { TESTING_GLOBAL, type TestingHandle } from './contract';
import { SyncPath } from '@/lib/sync/protocol/constants';
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
 * Waits until the page is in step with the server: no local transaction waits for upload, and
 * the page has applied a checkpoint that includes everything committed to Postgres before the
 * call (also rows written with the `sql` fixture just before).
 *
 * How: the page asks the server for a write checkpoint for its own client_id, which records the
 * app database's WAL position now; the stream sends this client the first checkpoint at or past
 * that position carrying that id (docs/protocol.md#write-checkpoints), whether or not its buckets
 * changed. Comparing with the newest checkpoint in storage instead would wait forever when other
 * users' changes made checkpoints this client never receives.
 */
export async function waitForSync(page: Page, options: { timeoutMs?: number } = {}): Promise<void> {
  const timeout = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeout;
  const left = () => Math.max(1, deadline - Date.now());
  // Uploads first: they may produce the very changes the checkpoint must carry.
  await expect
    .poll(() => page.evaluate((name) => (window as unknown as Record<string, TestingHandle | undefined>)[name]?.pendingUploads() ?? -1, TESTING_GLOBAL), { timeout: left(), message: 'the page to upload its local writes' })
    .toBe(0);
  let requested: string | null = null;
  await expect
    .poll(async () => (requested = await page.evaluate(requestWriteCheckpoint, { name: TESTING_GLOBAL, paths: { token: SyncPath.token, writeCheckpoint: SyncPath.writeCheckpoint } })), {
      timeout: left(),
      message: 'a write checkpoint for the page (is it offline or signed out?)',
    })
    .not.toBeNull();
  const target = BigInt(requested!);
  await expect
    .poll(async () => {
      const held = await page.evaluate((name) => (window as unknown as Record<string, TestingHandle | undefined>)[name]?.writeCheckpoint() ?? null, TESTING_GLOBAL);
      return held !== null && BigInt(held) >= target;
    }, { timeout: left(), message: `the page to apply a checkpoint carrying write checkpoint ${target}` })
    .toBe(true);
}

/** Runs in the page: a sync token from the session, then a write checkpoint for the page's client; null when either fails. */
async function requestWriteCheckpoint(args: { name: string; paths: { token: string; writeCheckpoint: string } }): Promise<string | null> {
  const clientId = (window as unknown as Record<string, TestingHandle | undefined>)[args.name]?.clientId();
  if (!clientId) return null;
  try {
    const tokenResponse = await fetch(args.paths.token, { credentials: 'same-origin', cache: 'no-store' });
    if (!tokenResponse.ok) return null;
    const { token } = (await tokenResponse.json()) as { token: string };
    const response = await fetch(args.paths.writeCheckpoint, {
      method: 'POST',
      cache: 'no-store',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: clientId }),
    });
    if (!response.ok) return null;
    return ((await response.json()) as { write_checkpoint: string }).write_checkpoint;
  } catch {
    return null;
  }
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
