'use client';

import { and, eq } from 'drizzle-orm';
import { useMemo } from 'react';
import { listMembers, lists, todos } from '@/lib/sync/generated/client-schema';
import { useRejectedWrites, useSyncDatabase, useSyncStatus, type SyncDatabase } from '@/lib/sync/react';

/**
 * The demo's only write path: every change goes to the local database through the client's typed
 * Drizzle tables; Lockstep queues it and uploads it (app/actions/upload.ts). Keeping the writes
 * here means the components never know how a write travels.
 */
export function demoWrites(db: SyncDatabase, userId: string) {
  const now = () => new Date().toISOString();
  return {
    async createList(name: string): Promise<string> {
      const id = crypto.randomUUID();
      await db.insert(lists).values({ id, name, ownerId: userId, createdAt: now() });
      return id;
    },
    async renameList(id: string, name: string) {
      await db.update(lists).set({ name }).where(eq(lists.id, id));
    },
    async deleteList(id: string) {
      await db.delete(lists).where(eq(lists.id, id));
    },
    async addTodo(listId: string, description: string): Promise<string> {
      const id = crypto.randomUUID();
      await db.insert(todos).values({ id, listId, description, completed: false, createdBy: userId, createdAt: now() });
      return id;
    },
    async editTodo(id: string, description: string) {
      await db.update(todos).set({ description }).where(eq(todos.id, id));
    },
    async setCompleted(id: string, completed: boolean) {
      await db.update(todos).set({ completed, completedAt: completed ? now() : null }).where(eq(todos.id, id));
    },
    async deleteTodo(id: string) {
      await db.delete(todos).where(eq(todos.id, id));
    },
    /** Shares a list: the member row's id is the one the server derives from its key (list_id, user_id). */
    async addMember(listId: string, memberId: string, role = 'editor') {
      await db.insert(listMembers).values({ id: memberRowId(listId, memberId), listId, userId: memberId, role });
    },
    async removeMember(listId: string, memberId: string) {
      await db.delete(listMembers).where(and(eq(listMembers.listId, listId), eq(listMembers.userId, memberId)));
    },
  };
}

export type DemoWrites = ReturnType<typeof demoWrites>;

/** A composite key's row id: a JSON array of the key's texts (docs/sync-rules.md#row-ids). */
function memberRowId(listId: string, userId: string): string {
  return JSON.stringify([listId, userId]);
}

/** The demo's writes, bound to the local database of the surrounding <SyncProvider>. */
export function useDemoWrites(userId: string): DemoWrites {
  const db = useSyncDatabase();
  return useMemo(() => demoWrites(db, userId), [db, userId]);
}

/** A write the server refused, as the rejected-writes panel shows it. */
export interface RejectedWriteView {
  transactionId: string;
  summary: string;
  code: string;
  message: string;
  rejectedAt: number;
}

/** Transactions the server refused (already undone locally), newest first, and dismissing them. */
export function useRejectedWriteViews(): { rejected: RejectedWriteView[]; dismiss(ids?: readonly string[]): Promise<void> } {
  const { rejected, dismiss } = useRejectedWrites();
  const views = useMemo(
    () =>
      rejected.map((r) => ({
        transactionId: r.transactionId,
        summary: r.ops.map((o) => `${o.op} ${o.table}`).join(', ') || 'an empty transaction',
        code: r.error.code,
        message: r.error.message,
        rejectedAt: r.rejectedAt,
      })),
    [rejected],
  );
  return { rejected: views, dismiss };
}

/** Local transactions not yet confirmed by the server; null until the client reported. */
export function usePendingUploads(): number | null {
  return useSyncStatus()?.pendingUploads ?? null;
}
