import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from '@playwright/test';
import { expect, test } from '@/lib/sync/testing';
import { expectReadyOffline, openList, seedList, signInToDemo, todoList } from './demo-helpers';

test('after a browser restart with the same profile, the app starts and shows its data with no network', async ({ baseURL, sql }, testInfo) => {
  const list = await seedList(sql, { name: 'Reading', owner: 'bob', todos: ['Finish the protocol docs', 'Start the storage docs'] });
  const profile = mkdtempSync(path.join(tmpdir(), 'lockstep-demo-profile-'));
  const launchOptions = testInfo.project.use.launchOptions ?? {};
  const open = () => chromium.launchPersistentContext(profile, { ...launchOptions, baseURL });
  try {
    let context = await open();
    let page = context.pages()[0] ?? (await context.newPage());
    await signInToDemo(page, 'bob');
    await openList(page, list.name);
    await expect(todoList(page)).toContainText('Finish the protocol docs');
    await expectReadyOffline(page);
    await context.close();

    context = await open();
    await context.setOffline(true);
    page = context.pages()[0] ?? (await context.newPage());
    const response = await page.goto('/');
    expect(response?.fromServiceWorker()).toBe(true);
    await expect(page.getByRole('region', { name: 'Sync status' })).toContainText('Offline');
    await expect(page.getByRole('list', { name: 'Lists' })).toContainText(list.name);
    await openList(page, list.name);
    await expect(todoList(page)).toContainText('Start the storage docs');
    await context.close();
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
});
