import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@/test/db';
import { seedDemoData } from '@/lib/db/seed';
import { users } from '@/lib/db/schema';
import { authorizeCredentials } from '../credentials';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase({ prefix: 'auth' });
  await seedDemoData(db.url);
  await db.db.insert(users).values({ email: 'nopassword@example.com', name: 'No Password' });
});
afterAll(async () => {
  await db?.drop();
});

describe('credentials sign-in against users.password_hash', () => {
  it('accepts the right password and returns the user without its hash', async () => {
    const user = await authorizeCredentials(db.db, { email: 'alice@example.com', password: 'alice-password' });
    expect(user).toMatchObject({ email: 'alice@example.com', name: 'Alice' });
    expect(user?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Object.keys(user!)).toEqual(['id', 'email', 'name']);
  });

  it('matches the email regardless of case and surrounding spaces', async () => {
    expect(await authorizeCredentials(db.db, { email: '  Bob@Example.COM ', password: 'bob-password' })).toMatchObject({ email: 'bob@example.com' });
  });

  it('refuses a wrong password, another user\'s password, an unknown email and a user without a password', async () => {
    expect(await authorizeCredentials(db.db, { email: 'alice@example.com', password: 'alice-password ' })).toBeNull();
    expect(await authorizeCredentials(db.db, { email: 'alice@example.com', password: 'bob-password' })).toBeNull();
    expect(await authorizeCredentials(db.db, { email: 'mallory@example.com', password: 'alice-password' })).toBeNull();
    expect(await authorizeCredentials(db.db, { email: 'nopassword@example.com', password: '' })).toBeNull();
    expect(await authorizeCredentials(db.db, { email: 'nopassword@example.com', password: 'anything' })).toBeNull();
  });

  it('refuses malformed input without throwing', async () => {
    for (const input of [undefined, null, {}, { email: 'alice@example.com' }, { email: ['alice@example.com'], password: 'alice-password' }, { email: 'alice@example.com', password: 'x'.repeat(5000) }]) {
      expect(await authorizeCredentials(db.db, input)).toBeNull();
    }
  });

  it('takes about as long for an unknown email as for a wrong password (no user enumeration by timing)', async () => {
    const time = async (email: string) => {
      const start = performance.now();
      for (let i = 0; i < 5; i++) await authorizeCredentials(db.db, { email, password: 'wrong-password' });
      return performance.now() - start;
    };
    await time('alice@example.com'); // warm up
    const known = await time('alice@example.com');
    const unknown = await time('nobody@example.com');
    // Both run one scrypt per attempt; without the decoy the unknown email would be ~100x faster.
    expect(unknown / known).toBeGreaterThan(0.4);
  });
});
