import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, expect, test } from '@playwright/test';
import { collectErrors, demo, expectSynced, signIn } from './client-helpers';

test('the local database survives a reload: data shows with the sync endpoints unreachable', async ({ page }) => {
  const errors = collectErrors(page);
  await signIn(page, demo.alice);
  await expectSynced(page);
  await expect(page.getByTestId('lists')).toContainText('Groceries');
  const count = await page.getByTestId('todo-count').textContent();
  expect(Number(count)).toBeGreaterThan(0);

  // From here on the server cannot help: whatever shows comes from OPFS.
  let blocked = 0;
  await page.route('**/api/sync/**', (route) => {
    blocked++;
    return route.abort();
  });
  await page.reload();
  await expectSynced(page);
  await expect(page.getByTestId('lists')).toContainText('Groceries');
  await expect(page.getByTestId('todo-count')).toHaveText(count!);
  // The worker did try to reach the server (and is backing off), so the rows came from OPFS.
  await expect.poll(() => blocked).toBeGreaterThan(0);
  await expect(page.getByTestId('status-state')).not.toHaveText('synced');
  expect(errors.filter((e) => !e.includes('net::ERR_FAILED'))).toEqual([]);
});

test('the local database survives a browser restart (same profile)', async ({ baseURL }, testInfo) => {
  const profile = mkdtempSync(path.join(tmpdir(), 'lockstep-profile-'));
  const launchOptions = testInfo.project.use.launchOptions ?? {};
  const open = () => chromium.launchPersistentContext(profile, { ...launchOptions, baseURL });
  try {
    let context = await open();
    let page = context.pages()[0] ?? (await context.newPage());
    await signIn(page, demo.bob);
    await expectSynced(page);
    await expect(page.getByTestId('lists')).toContainText('Work');
    const count = await page.getByTestId('todo-count').textContent();
    await context.close();

    context = await open();
    page = context.pages()[0] ?? (await context.newPage());
    await context.route('**/api/sync/**', (route) => route.abort());
    await page.goto('/sync-playground');
    await expectSynced(page);
    await expect(page.getByTestId('lists')).toContainText('Work');
    await expect(page.getByTestId('todo-count')).toHaveText(count!);
    await context.close();
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
});
