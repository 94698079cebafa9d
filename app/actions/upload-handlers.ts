import { and, eq, or, sql } from 'drizzle-orm';
import { listMembers, lists, todos, users } from '@/lib/db/schema';
import { forbidden, tableHandler, type OpContext, type UploadTx } from '@/lib/sync/server/upload';

/**
 * The demo's upload rules: who may write what. Owners and members of a list write its todos and
 * its membership; only the owner renames or deletes a list; a user edits only their own name.
 * Every id that names a person must be the uploader's own: a client cannot act as someone else.
 */
async function canWriteList(tx: UploadTx, userId: string, listId: unknown): Promise<boolean> {
  if (typeof listId !== 'string') return false;
  const found = await tx
    .select({ one: sql`1` })
    .from(lists)
    .where(and(eq(lists.id, listId), or(eq(lists.ownerId, userId), sql`EXISTS (SELECT 1 FROM ${listMembers} m WHERE m.list_id = ${lists.id} AND m.user_id = ${userId})`)))
    .limit(1);
  return found.length > 0;
}

/** The lists an op touches: the row's list before, and the list it moves to. */
async function requireListAccess(ctx: OpContext, property: string): Promise<void> {
  for (const listId of new Set([ctx.before?.[property], ctx.values[property]].filter((v) => v !== undefined))) {
    if (!(await canWriteList(ctx.tx, ctx.user.id, listId))) throw forbidden(`You cannot write ${ctx.table} of list ${String(listId)}.`, { table: ctx.table, list: listId });
  }
}

function requireSelf(ctx: OpContext, property: string, label: string): void {
  const value = ctx.values[property];
  if (value !== undefined && value !== null && value !== ctx.user.id) throw forbidden(`${label} must be your own user id.`, { table: ctx.table, column: label });
}

export const uploadHandlers = {
  todos: tableHandler(todos, {
    async authorize(ctx) {
      if (ctx.op === 'PUT' && !ctx.before && ctx.values.createdBy === undefined) ctx.values.createdBy = ctx.user.id;
      if (ctx.before && ctx.values.createdBy !== undefined && ctx.values.createdBy !== ctx.before.createdBy) throw forbidden('created_by cannot be changed.');
      if (!ctx.before) requireSelf(ctx, 'createdBy', 'created_by');
      await requireListAccess(ctx, 'listId');
    },
  }),
  lists: tableHandler(lists, {
    authorize(ctx) {
      if (ctx.before) {
        if (ctx.before.ownerId !== ctx.user.id) throw forbidden('Only the owner changes or deletes a list.');
        if (ctx.values.ownerId !== undefined && ctx.values.ownerId !== ctx.before.ownerId) throw forbidden('A list cannot be given away.');
      } else if (ctx.op !== 'DELETE') {
        if (ctx.values.ownerId === undefined) ctx.values.ownerId = ctx.user.id;
        requireSelf(ctx, 'ownerId', 'owner_id');
      }
    },
  }),
  list_members: tableHandler(listMembers, {
    async authorize(ctx) {
      // Leaving a list is always allowed; everything else needs access to the list.
      if (ctx.op === 'DELETE' && ctx.before?.userId === ctx.user.id) return;
      await requireListAccess(ctx, 'listId');
    },
  }),
  users: tableHandler(users, {
    authorize(ctx) {
      if (ctx.op !== 'PATCH' || ctx.key.id !== ctx.user.id) throw forbidden('You can only edit your own profile.');
      const other = Object.keys(ctx.values).filter((k) => k !== 'name');
      if (other.length > 0) throw forbidden(`Only your name can be changed here (not ${other.join(', ')}).`);
    },
  }),
};
