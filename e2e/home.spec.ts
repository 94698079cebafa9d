import { expect, test } from '@playwright/test';

test('the home page renders the seeded lists from Postgres', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Lockstep', level: 1 })).toBeVisible();
  const lists = page.getByTestId('lists');
  await expect(lists).toContainText('Groceries');
  await expect(lists).toContainText('Weekend trip');
  await expect(lists).toContainText('Work');
  expect(errors).toEqual([]);
});
