'use server';

import { and, eq, or, sql } from 'drizzle-orm';
import { getServerSession } from 'next-auth';
import { authOptions } from '@/lib/auth/options';
import { appDb } from '@/lib/db/client';
import { listMembers, lists, users } from '@/lib/db/schema';

/** A person as the sharing panel shows them. */
export interface Person {
  id: string;
  email: string;
  name: string | null;
}

async function signedInUser(): Promise<string | null> {
  const session = await getServerSession(authOptions);
  return session?.user?.id ?? null;
}

/**
 * Resolves an email to a user, for sharing a list: clients only sync their own users row, so
 * they cannot look others up locally. Signed-in users only; the answer says nothing else.
 */
export async function findPersonByEmail(email: string): Promise<Person | null> {
  if (!(await signedInUser())) return null;
  const normalized = String(email).trim().toLowerCase();
  if (!normalized) return null;
  const [found] = await appDb()
    .select({ id: users.id, email: users.email, name: users.name })
    .from(users)
    .where(sql`lower(${users.email}) = ${normalized}`)
    .limit(1);
  return found ?? null;
}

/**
 * Names and emails of a list's owner and members, to label the member ids the list's bucket
 * syncs. Only for a list the signed-in user owns or belongs to.
 */
export async function listPeople(listId: string): Promise<Person[]> {
  const userId = await signedInUser();
  if (!userId || typeof listId !== 'string') return [];
  const db = appDb();
  const access = await db
    .select({ one: sql`1` })
    .from(lists)
    .where(and(eq(lists.id, listId), or(eq(lists.ownerId, userId), sql`EXISTS (SELECT 1 FROM ${listMembers} m WHERE m.list_id = ${lists.id} AND m.user_id = ${userId})`)))
    .limit(1);
  if (access.length === 0) return [];
  return db
    .selectDistinct({ id: users.id, email: users.email, name: users.name })
    .from(users)
    .where(sql`${users.id} IN (SELECT owner_id FROM ${lists} WHERE id = ${listId} UNION SELECT user_id FROM ${listMembers} WHERE list_id = ${listId})`);
}
