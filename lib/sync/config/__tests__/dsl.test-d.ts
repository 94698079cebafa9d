import { integer, jsonb, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { describe, expectTypeOf, it } from 'vitest';
import { listMembers, lists, todos, users } from '@/lib/db/schema';
import { bucket, eq, from, fromToken, inArray, lookup, token, type Param } from '@/lib/sync/config';

const counters = pgTable('counters', { id: uuid('id').primaryKey(), n: integer('n').notNull(), label: text('label'), meta: jsonb('meta') });

describe('sync-rule DSL types', () => {
  it('gives data callbacks the parameters of their bucket, typed by the columns they come from', () => {
    bucket({
      parameters: [
        lookup(lists, { listId: lists.id }).where(eq(lists.ownerId, token.sub)),
        lookup(listMembers, { listId: listMembers.listId }).where(eq(listMembers.userId, token.sub)),
      ],
      data: (params) => {
        expectTypeOf(params).toEqualTypeOf<{ readonly listId: Param<'uuid', 'bucket'> }>();
        return [from(todos).where(eq(todos.listId, params.listId))];
      },
    });
    bucket({
      parameters: fromToken({ userId: token.sub, level: token.claim('level', 'number') }),
      data: (params) => {
        expectTypeOf(params.userId).toEqualTypeOf<Param<'claim:string', 'bucket'>>();
        expectTypeOf(params.level).toEqualTypeOf<Param<'claim:number', 'bucket'>>();
        return [from(counters).where(eq(counters.n, params.level), eq(counters.label, params.userId))];
      },
    });
  });

  it('accepts constants of the column type, IN lists, column subsets and omissions', () => {
    bucket({
      parameters: lookup(listMembers, { listId: listMembers.listId }).where(eq(listMembers.userId, token.sub), inArray(listMembers.role, ['editor', 'viewer'])),
      data: ({ listId }) => [
        from(todos).select(todos.id, todos.description).where(eq(todos.listId, listId), eq(todos.completed, false)),
        from(lists).omit(lists.ownerId).where(eq(lists.id, listId)),
      ],
    });
    bucket({ data: () => [from(counters).where(inArray(counters.n, [1, 2, 3]))] });
  });

  it('rejects a uuid column compared with an integer parameter', () => {
    bucket({
      parameters: lookup(counters, { n: counters.n }).where(eq(counters.label, token.sub)),
      // @ts-expect-error todos.list_id (uuid) cannot be compared with a bucket parameter of kind integer
      data: ({ n }) => [from(todos).where(eq(todos.listId, n))],
    });
    bucket({
      // @ts-expect-error counters.id (uuid) cannot be compared with a token claim of kind claim:number
      parameters: lookup(counters, { n: counters.n }).where(eq(counters.id, token.claim('x', 'number'))),
      data: ({ n }) => [from(counters).where(eq(counters.n, n))],
    });
  });

  it('rejects constants of another type', () => {
    // @ts-expect-error todos.list_id (uuid) cannot be compared with the constant 5
    bucket({ data: () => [from(todos).where(eq(todos.listId, 5))] });
    // @ts-expect-error todos.completed is boolean
    bucket({ data: () => [from(todos).where(eq(todos.completed, 'yes'))] });
    // @ts-expect-error list_members.role is text, not number
    bucket({ data: () => [from(listMembers).where(inArray(listMembers.role, [1]))] });
  });

  it('rejects columns that are not in the query table', () => {
    bucket({
      parameters: fromToken({ userId: token.sub }),
      // @ts-expect-error lists.id is not a column of todos
      data: ({ userId }) => [from(todos).where(eq(lists.id, userId))],
    });
    // @ts-expect-error users.id is not a column of todos
    bucket({ data: () => [from(todos).select(users.id)] });
    // @ts-expect-error users.passwordHash is not a column of todos
    bucket({ data: () => [from(todos).omit(users.passwordHash)] });
    // @ts-expect-error the lookup outputs a column of another table
    lookup(lists, { listId: listMembers.listId });
  });

  it('rejects a filter that cannot be evaluated per row: a token claim in a data query', () => {
    // @ts-expect-error data queries compare with bucket parameters, not token claims
    bucket({ data: () => [from(todos).where(eq(todos.listId, token.sub))] });
  });

  it('rejects a parameter the bucket does not define', () => {
    bucket({
      parameters: fromToken({ userId: token.sub }),
      // @ts-expect-error nope is not a parameter of this bucket
      data: ({ nope }) => [from(todos).where(eq(todos.listId, nope))],
    });
    // @ts-expect-error a global bucket has no parameters
    bucket({ data: ({ listId }) => [from(todos).where(eq(todos.listId, listId))] });
  });

  it('rejects parameter queries that disagree about the parameters', () => {
    bucket({
      parameters: [
        lookup(lists, { listId: lists.id }).where(eq(lists.ownerId, token.sub)),
        // @ts-expect-error listId is integer here but uuid in the first query
        lookup(counters, { listId: counters.n }).where(eq(counters.label, token.sub)),
      ],
      data: ({ listId }) => [from(todos).where(eq(todos.listId, listId))],
    });
    bucket({
      parameters: [
        lookup(lists, { listId: lists.id }).where(eq(lists.ownerId, token.sub)),
        // @ts-expect-error the second query yields an extra parameter
        lookup(listMembers, { listId: listMembers.listId, userId: listMembers.userId }).where(eq(listMembers.userId, token.sub)),
      ],
      data: ({ listId }) => [from(todos).where(eq(todos.listId, listId))],
    });
  });

  it('rejects filters on columns without equality (json) and bucket parameters in lookups', () => {
    // @ts-expect-error counters.meta (a type without equality filters) cannot be compared with this value
    bucket({ data: () => [from(counters).where(eq(counters.meta, { a: 1 }))] });
    bucket({
      parameters: fromToken({ userId: token.sub }),
      data: ({ userId }) => {
        // @ts-expect-error lookups compare with token claims and constants only
        lookup(listMembers, { listId: listMembers.listId }).where(eq(listMembers.userId, userId));
        return [from(users).where(eq(users.id, userId))];
      },
    });
  });
});
