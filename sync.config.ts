/**
 * What each user syncs (docs/sync-rules.md). Compiled at startup by the replicator and the sync
 * endpoint; `npm run sync:generate` turns it into the publication migration and the client schema.
 */
import { announcements, listMembers, lists, todos, users } from '@/lib/db/schema';
import { bucket, defineSyncRules, eq, from, fromToken, lookup, token } from '@/lib/sync/config';

export default defineSyncRules({
  buckets: {
    /** The signed-in user's own row, without the password hash. Synced first. */
    me: bucket({
      priority: 0,
      parameters: fromToken({ userId: token.sub }),
      data: ({ userId }) => [from(users).omit(users.passwordHash).where(eq(users.id, userId))],
    }),

    /** One instance per list the user owns or is a member of: the list, its todos and its members. */
    list: bucket({
      priority: 1,
      parameters: [
        lookup(lists, { listId: lists.id }).where(eq(lists.ownerId, token.sub)),
        lookup(listMembers, { listId: listMembers.listId }).where(eq(listMembers.userId, token.sub)),
      ],
      data: ({ listId }) => [
        from(lists).where(eq(lists.id, listId)),
        from(todos).where(eq(todos.listId, listId)),
        from(listMembers).where(eq(listMembers.listId, listId)),
      ],
    }),

    /** Published announcements, the same for everyone. */
    announcements: bucket({
      data: () => [from(announcements).where(eq(announcements.published, true))],
    }),
  },
});
