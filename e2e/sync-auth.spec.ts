import { expect, test } from '@playwright/test';

/**
 * Sign-in to sync stream on the production build: the /signin form (next-auth credentials against
 * users.password_hash), GET /api/sync/token with the session cookie, then POST /api/sync/stream with
 * the token, read until the first checkpoint_complete.
 */

async function readUntilComplete(response: Response): Promise<Array<{ type: string; [key: string]: unknown }>> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const lines: Array<{ type: string; [key: string]: unknown }> = [];
  let buffer = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return lines;
      buffer += decoder.decode(value, { stream: true });
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = JSON.parse(buffer.slice(0, newline)) as { type: string };
        buffer = buffer.slice(newline + 1);
        lines.push(line);
        if (line.type === 'checkpoint_complete') return lines;
      }
    }
  } finally {
    await reader.cancel();
  }
}

test('a signed-in user gets a sync token, and the stream sends their buckets', async ({ page, baseURL }) => {
  const refused = await page.request.get('/api/sync/token');
  expect(refused.status()).toBe(401);
  expect((await refused.json()) as unknown).toMatchObject({ error: { code: 'AUTH_NOT_SIGNED_IN' } });

  await page.goto('/signin');
  await page.getByLabel('Email').fill('alice@example.com');
  await page.getByLabel('Password').fill('wrong-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('form', { name: 'Sign in' }).getByRole('alert')).toContainText('Wrong email or password');

  await page.getByLabel('Password').fill('alice-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === '/');

  const answer = await page.request.get('/api/sync/token');
  expect(answer.status()).toBe(200);
  const { token, expires_at } = (await answer.json()) as { token: string; expires_at: string };
  expect(new Date(expires_at).getTime()).toBeGreaterThan(Date.now());

  const stream = await fetch(`${baseURL}/api/sync/stream`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: 'e2e' }),
  });
  expect(stream.status).toBe(200);
  expect(stream.headers.get('content-type')).toContain('application/x-ndjson');
  const lines = await readUntilComplete(stream);
  const checkpoint = lines.find((l) => l.type === 'checkpoint') as { buckets: Array<{ bucket: string }> } | undefined;
  // Highest priority first: her own row, her lists (three seeded, more when other specs made some), announcements.
  const kinds = checkpoint?.buckets.map((b) => b.bucket.split('[')[0]) ?? [];
  expect(kinds[0]).toBe('me');
  expect(kinds.at(-1)).toBe('announcements');
  expect(kinds.slice(1, -1).every((k) => k === 'list')).toBe(true);
  expect(kinds.length - 2).toBeGreaterThanOrEqual(3);
  const text = JSON.stringify(lines);
  expect(text).toContain('alice@example.com');
  expect(text).toContain('Oat milk');
  expect(text).not.toContain('bob@example.com');

  const anonymous = await fetch(`${baseURL}/api/sync/stream`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  expect(anonymous.status).toBe(401);
});
