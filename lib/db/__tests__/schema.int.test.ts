import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@/test/db';
import { migrateAppDatabase } from '@/lib/db/migrate';
import { seedDemoData, demoUsers } from '@/lib/db/seed';
import { verifyPassword } from '@/lib/auth/password';
import { listMembers, lists, todos, users } from '@/lib/db/schema';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.drop();
});

describe('app schema', () => {
  it('applies the migrations twice without error', async () => {
    await migrateAppDatabase(t.url);
    const tables = await t.pool.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename");
    expect(tables.rows.map((r) => r.tablename)).toEqual(['announcements', 'list_members', 'lists', 'todos', 'users']);
  });

  it('round-trips a todo with every column type', async () => {
    const [user] = await t.db.insert(users).values({ email: 'rt@example.com', name: 'Round Trip' }).returning();
    const [list] = await t.db.insert(lists).values({ name: 'RT', ownerId: user!.id }).returning();
    const completedAt = new Date('2026-01-02T03:04:05.678Z');
    const notes = 'x'.repeat(100_000); // large enough to be TOASTed
    const [inserted] = await t.db
      .insert(todos)
      .values({ listId: list!.id, description: 'Ünïcødé ✓', notes, completed: true, completedAt, createdBy: user!.id })
      .returning();
    const [read] = await t.db.select().from(todos).where(eq(todos.id, inserted!.id));
    expect(read).toMatchObject({ listId: list!.id, description: 'Ünïcødé ✓', notes, completed: true, createdBy: user!.id });
    expect(read!.completedAt?.toISOString()).toBe(completedAt.toISOString());
    expect(read!.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(read!.createdAt).toBeInstanceOf(Date);

    const [defaults] = await t.db.insert(todos).values({ listId: list!.id, description: 'defaults' }).returning();
    expect(defaults).toMatchObject({ completed: false, completedAt: null, notes: null, createdBy: null });
  });

  it('cascades list deletion to todos and memberships', async () => {
    const [owner] = await t.db.insert(users).values({ email: 'owner@example.com' }).returning();
    const [member] = await t.db.insert(users).values({ email: 'member@example.com' }).returning();
    const [list] = await t.db.insert(lists).values({ name: 'Doomed', ownerId: owner!.id }).returning();
    await t.db.insert(listMembers).values({ listId: list!.id, userId: member!.id, role: 'editor' });
    await t.db.insert(todos).values({ listId: list!.id, description: 'gone soon' });
    await t.db.delete(lists).where(eq(lists.id, list!.id));
    expect(await t.db.select().from(todos).where(eq(todos.listId, list!.id))).toEqual([]);
    expect(await t.db.select().from(listMembers).where(eq(listMembers.listId, list!.id))).toEqual([]);
  });
});

describe('seed', () => {
  it('seeds an empty database once, with real password hashes', async () => {
    const fresh = await createTestDatabase({ prefix: 'seed' });
    try {
      expect(await seedDemoData(fresh.url)).toBe('seeded');
      expect(await seedDemoData(fresh.url)).toBe('skipped');
      const seeded = await fresh.db.select().from(users).orderBy(users.email);
      expect(seeded.map((u) => u.email)).toEqual(demoUsers.map((u) => u.email));
      for (const [i, u] of seeded.entries()) {
        expect(u.passwordHash).toMatch(/^scrypt\$/);
        expect(await verifyPassword(demoUsers[i]!.password, u.passwordHash!)).toBe(true);
        expect(await verifyPassword('wrong', u.passwordHash!)).toBe(false);
      }
      const shared = await fresh.pool.query('SELECT count(*)::int AS n FROM list_members');
      expect(shared.rows[0].n).toBeGreaterThan(0);
    } finally {
      await fresh.drop();
    }
  });
});
