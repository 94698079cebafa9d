import { eq } from 'drizzle-orm';
import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';
import { describe, expectTypeOf, it } from 'vitest';
import { announcements, clientSchema, listMembers, todos, users } from '@/lib/sync/generated/client-schema';

declare const db: BaseSQLiteDatabase<'async', unknown>;

describe('generated client schema types', () => {
  it('types a select from todos by list, with the wire types of each column', async () => {
    const rows = await db.select().from(todos).where(eq(todos.listId, 'a-list-id'));
    expectTypeOf(rows).toEqualTypeOf<
      Array<{
        id: string;
        listId: string;
        description: string;
        notes: string | null;
        completed: boolean;
        completedAt: string | null;
        createdBy: string | null;
        createdAt: string;
      }>
    >();
  });

  it('keeps columns the rules do not sync out of the client types', async () => {
    const [me] = await db.select().from(users);
    expectTypeOf(me).toEqualTypeOf<{ id: string; email: string; name: string | null; createdAt: string } | undefined>();
    // @ts-expect-error password_hash is not synced to clients
    void users.passwordHash;
  });

  it('rejects comparisons of the wrong type', () => {
    // @ts-expect-error list_id is TEXT holding a uuid, not a number
    eq(todos.listId, 5);
    // @ts-expect-error published is a boolean
    eq(announcements.published, 'yes');
    expectTypeOf(listMembers.id.dataType).toEqualTypeOf<'string'>();
    expectTypeOf(clientSchema.tables).items.toHaveProperty('createViewSql').toBeString();
  });
});
