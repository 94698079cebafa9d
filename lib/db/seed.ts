import { count } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { hashPassword } from '@/lib/auth/password';
import { listMembers, lists, todos, users } from './schema';

/** The demo accounts. Their passwords are documented in README.md. */
export const demoUsers = [
  { email: 'alice@example.com', name: 'Alice', password: 'alice-password' },
  { email: 'bob@example.com', name: 'Bob', password: 'bob-password' },
  { email: 'carol@example.com', name: 'Carol', password: 'carol-password' },
] as const;

/**
 * Fills an empty app database with the demo users, lists and todos, some lists shared between
 * users. A database that already has users is left alone, so this is safe to run on every start.
 */
export async function seedDemoData(url: string): Promise<'seeded' | 'skipped'> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const db = drizzle(client);
    return await db.transaction(async (tx) => {
      await tx.execute("SELECT pg_advisory_xact_lock(hashtext('lockstep:seed'))");
      const [existing] = await tx.select({ n: count() }).from(users);
      if ((existing?.n ?? 0) > 0) return 'skipped';

      const [alice, bob, carol] = await tx
        .insert(users)
        .values(await Promise.all(demoUsers.map(async (u) => ({ email: u.email, name: u.name, passwordHash: await hashPassword(u.password) }))))
        .returning({ id: users.id });
      if (!alice || !bob || !carol) throw new Error('seed: users were not inserted');

      const [groceries, trip, work] = await tx
        .insert(lists)
        .values([
          { name: 'Groceries', ownerId: alice.id },
          { name: 'Weekend trip', ownerId: alice.id },
          { name: 'Work', ownerId: bob.id },
        ])
        .returning({ id: lists.id });
      if (!groceries || !trip || !work) throw new Error('seed: lists were not inserted');

      await tx.insert(listMembers).values([
        { listId: trip.id, userId: bob.id, role: 'editor' },
        { listId: trip.id, userId: carol.id, role: 'viewer' },
        { listId: work.id, userId: alice.id, role: 'editor' },
      ]);
      await tx.insert(todos).values([
        { listId: groceries.id, description: 'Oat milk', createdBy: alice.id },
        { listId: groceries.id, description: 'Coffee beans', notes: 'The dark roast from the corner shop', createdBy: alice.id },
        { listId: groceries.id, description: 'Bread', completed: true, completedAt: new Date(), createdBy: alice.id },
        { listId: trip.id, description: 'Book the cabin', completed: true, completedAt: new Date(), createdBy: alice.id },
        { listId: trip.id, description: 'Pack the tent', createdBy: bob.id },
        { listId: trip.id, description: 'Check the weather', createdBy: carol.id },
        { listId: work.id, description: 'Review the sync protocol', createdBy: bob.id },
        { listId: work.id, description: 'Write release notes', notes: 'Mention the offline e2e helpers.', createdBy: alice.id },
      ]);
      return 'seeded';
    });
  } finally {
    await client.end();
  }
}
