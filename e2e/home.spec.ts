import { expect, signIn, test } from '@/lib/sync/testing';

test('signed out, the home page sends you to sign in', async ({ page }) => {
  await page.goto('/');
  await expect(page).toHaveURL(/\/signin$/);
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
});

test('signed in, the home page shows your lists from the local database', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await signIn(page, 'alice@example.com', 'alice-password');
  await expect(page.getByRole('heading', { name: 'Lockstep', level: 1 })).toBeVisible();
  const lists = page.getByRole('list', { name: 'Lists' });
  // Alice owns Groceries and Weekend trip and is a member of Bob's Work (other tests add lists).
  for (const name of ['Groceries', 'Weekend trip', 'Work']) await expect(lists.getByRole('link', { name, exact: true })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Sync status' })).toContainText('Up to date');

  await lists.getByRole('link', { name: 'Groceries' }).click();
  await expect(page).toHaveURL(/\?list=/);
  await expect(page.getByRole('heading', { name: 'Groceries', level: 2 })).toBeVisible();
  await expect(page.getByRole('list', { name: 'Todos' })).toContainText('Oat milk');
  await expect(page.getByRole('checkbox', { name: 'Done: Bread' })).toBeChecked();
  expect(errors).toEqual([]);
});
