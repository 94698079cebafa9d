import { customType, integer, interval, pgTable, point, text, uuid } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import { listMembers, lists, todos, users } from '@/lib/db/schema';
import { isLockstepError } from '@/lib/sync/errors';
import { bucket, compileSyncRules, defineSyncRules, eq, from, fromToken, lookup, SyncRulesErrorCode, token, type Bucket } from '@/lib/sync/config';

/* eslint-disable @typescript-eslint/no-explicit-any -- these tests pass what TypeScript would reject, as plain JS could */

const noKey = pgTable('audit_log', { at: text('at').notNull(), message: text('message') });
const timings = pgTable('timings', { id: uuid('id').primaryKey(), took: interval('took'), label: text('label') });
const places = pgTable('places', { id: integer('id').primaryKey(), at: point('at').array(), name: text('name') });
const money = customType<{ data: string }>({ dataType: () => 'money' });
const prices = pgTable('prices', { id: uuid('id').primaryKey(), price: money('price') });

/** eq() without its compile-time checks, as plain JavaScript would call it. */
const looseEq = eq as unknown as (column: unknown, value: unknown) => any;

function compileBuckets(buckets: Record<string, Bucket<any>>) {
  return compileSyncRules(defineSyncRules({ buckets }));
}

/** Runs `fn`, expecting a ConfigError with `code` whose message names the file, the bucket and the rule and says how to fix it. */
function expectConfigError(fn: () => unknown, code: string, ...fragments: string[]): string {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(isLockstepError(caught, code), `expected ${code}, got ${String(caught)}`).toBe(true);
  const error = caught as Error & { category: string };
  expect(error.name).toBe('ConfigError');
  expect(error.category).toBe('config');
  expect(error.message).toMatch(/^sync\.config\.ts[,:]/);
  expect(error.message).toContain(' Fix: ');
  for (const fragment of fragments) expect(error.message).toContain(fragment);
  return error.message;
}

describe('rules that cannot be evaluated per row', () => {
  it('rejects a data query that does not filter on every bucket parameter', () => {
    const message = expectConfigError(
      () =>
        compileBuckets({
          list: bucket({
            parameters: lookup(listMembers, { listId: listMembers.listId }).where(eq(listMembers.userId, token.sub)),
            data: ({ listId }) => [from(lists).where(eq(lists.id, listId)), from(todos)],
          }),
        }),
      SyncRulesErrorCode.notPerRow,
      'bucket "list"',
      'data query #2 (todos)',
      'parameter "listId"',
    );
    expect(message).toContain('add a filter eq(<todos column>, listId)');
  });

  it('rejects a token claim compared in a data query', () => {
    expectConfigError(
      () => compileBuckets({ mine: bucket({ data: () => [from(todos).where(looseEq(todos.createdBy, token.sub))] }) }),
      SyncRulesErrorCode.notPerRow,
      'bucket "mine"',
      'data query #1 (todos)',
      'token claim "sub"',
      'fromToken({ userId: token.sub })',
    );
  });

  it('rejects a bucket parameter used inside a parameter lookup', () => {
    expectConfigError(
      () =>
        compileBuckets({
          list: bucket({
            parameters: lookup(listMembers, { listId: listMembers.listId }).where(looseEq(listMembers.userId, { [Symbol.for('lockstep.syncRules.node')]: 'param', name: 'userId', owner: {} })),
            data: ({ listId }) => [from(todos).where(eq(todos.listId, listId))],
          }),
        }),
      SyncRulesErrorCode.notPerRow,
      'parameter query #1 (lookup on list_members)',
      'token claims',
    );
  });
});

describe('undefined parameters', () => {
  it('rejects a data query that reads a parameter the bucket does not define', () => {
    expectConfigError(
      () =>
        compileBuckets({
          list: bucket({
            parameters: lookup(listMembers, { listId: listMembers.listId }).where(eq(listMembers.userId, token.sub)),
            data: (p: any) => [from(todos).where(looseEq(todos.listId, p.listID))],
          }),
        }),
      SyncRulesErrorCode.undefinedParameter,
      'bucket "list"',
      'data query #1 (todos)',
      'parameter "listID"',
      'its parameters: listId',
    );
  });

  it('rejects a parameter of another bucket', () => {
    let leaked: unknown;
    expectConfigError(
      () =>
        compileBuckets({
          me: bucket({
            parameters: fromToken({ userId: token.sub }),
            data: ({ userId }) => {
              leaked = userId;
              return [from(users).where(eq(users.id, userId))];
            },
          }),
          theirs: bucket({ data: () => [from(todos).where(looseEq(todos.createdBy, leaked))] }),
        }),
      SyncRulesErrorCode.undefinedParameter,
      'bucket "theirs"',
      'parameter "userId"',
    );
  });

  it('rejects parameter queries that do not all yield every parameter', () => {
    expectConfigError(
      () =>
        compileBuckets({
          list: bucket({
            parameters: [
              lookup(lists, { listId: lists.id }).where(eq(lists.ownerId, token.sub)),
              lookup(listMembers, { listId: listMembers.listId, userId: listMembers.userId } as any).where(eq(listMembers.userId, token.sub)),
            ] as any,
            data: ({ listId }: any) => [from(todos).where(looseEq(todos.listId, listId))],
          }),
        }),
      SyncRulesErrorCode.undefinedParameter,
      'parameter query #2 (lookup on list_members)',
      'remove "userId"',
    );
  });
});

describe('tables without a primary key', () => {
  it('rejects them in data queries and in lookups', () => {
    expectConfigError(() => compileBuckets({ audit: bucket({ data: () => [from(noKey)] }) }), SyncRulesErrorCode.noPrimaryKey, 'bucket "audit"', 'data query #1 (audit_log)', 'public.audit_log has no primary key', 'add a primary key');
    expectConfigError(
      () => compileBuckets({ audit: bucket({ parameters: lookup(noKey, { m: noKey.message }).where(eq(noKey.at, token.sub)), data: ({ m }) => [from(users).where(eq(users.name, m))] }) }),
      SyncRulesErrorCode.noPrimaryKey,
      'parameter query #1 (lookup on audit_log)',
    );
  });
});

describe('column types without a wire mapping', () => {
  it('names the table and column, and compiles once the column is left out', () => {
    expectConfigError(() => compileBuckets({ t: bucket({ data: () => [from(timings)] }) }), SyncRulesErrorCode.unsupportedType, 'bucket "t"', 'data query #1 (timings)', 'timings.took', 'interval', '.omit(');
    expect(() => compileBuckets({ t: bucket({ data: () => [from(timings).omit(timings.took)] }) })).not.toThrow();
    expect(() => compileBuckets({ t: bucket({ data: () => [from(timings).select(timings.id, timings.label)] }) })).not.toThrow();
  });

  it('rejects arrays of unsupported elements and unknown custom types', () => {
    expectConfigError(() => compileBuckets({ p: bucket({ data: () => [from(places)] }) }), SyncRulesErrorCode.unsupportedType, 'places.at', 'point');
    expectConfigError(() => compileBuckets({ p: bucket({ data: () => [from(prices)] }) }), SyncRulesErrorCode.unsupportedType, 'prices.price', 'money');
  });
});

describe('other mistakes', () => {
  it('rejects a column of another table, and mismatched types, when TypeScript is bypassed', () => {
    expectConfigError(() => compileBuckets({ x: bucket({ data: () => [from(todos).where(looseEq(lists.name, 'x'))] }) }), SyncRulesErrorCode.wrongTable, 'column lists.name is not a column of todos');
    expectConfigError(() => compileBuckets({ x: bucket({ data: () => [from(todos).where(looseEq(todos.listId, 5))] }) }), SyncRulesErrorCode.typeMismatch, 'todos.list_id (uuid) is compared with 5');
    expectConfigError(
      () => compileBuckets({ x: bucket({ parameters: fromToken({ n: token.claim('n', 'number') }), data: ({ n }) => [from(todos).where(looseEq(todos.listId, n))] }) }),
      SyncRulesErrorCode.typeMismatch,
      'parameter "n" of kind claim:number',
    );
  });

  it('rejects two queries that write one client table differently', () => {
    expectConfigError(
      () =>
        compileBuckets({
          a: bucket({ data: () => [from(users).select(users.id, users.name)] }),
          b: bucket({ parameters: fromToken({ userId: token.sub }), data: ({ userId }) => [from(users).where(eq(users.id, userId))] }),
        }),
      SyncRulesErrorCode.clientTableConflict,
      'bucket "b"',
      'client table "users"',
      ".as('users_b')",
    );
    expect(() =>
      compileBuckets({
        a: bucket({ data: () => [from(users).select(users.id, users.name).as('user_names')] }),
        b: bucket({ parameters: fromToken({ userId: token.sub }), data: ({ userId }) => [from(users).where(eq(users.id, userId))] }),
      }),
    ).not.toThrow();
  });

  it('rejects malformed rules and buckets', () => {
    expectConfigError(() => compileSyncRules({ buckets: {} }), SyncRulesErrorCode.invalid, 'defineSyncRules');
    expectConfigError(() => compileSyncRules(defineSyncRules({ buckets: {} })), SyncRulesErrorCode.invalid, 'no buckets');
    expectConfigError(() => compileBuckets({ 'my-bucket': bucket({ data: () => [from(users)] }) }), SyncRulesErrorCode.invalid, 'bucket "my-bucket"', 'identifiers');
    expectConfigError(() => compileBuckets({ b: bucket({ priority: 7 as any, data: () => [from(users)] }) }), SyncRulesErrorCode.invalid, 'priority 7');
    expectConfigError(() => compileBuckets({ b: bucket({ data: () => [] }) }), SyncRulesErrorCode.invalid, 'bucket "b", data', 'no queries');
    expectConfigError(
      () =>
        compileBuckets({
          b: bucket({
            data: () => {
              throw new Error('boom');
            },
          }),
        }),
      SyncRulesErrorCode.invalid,
      'the data callback threw: boom',
    );
  });
});
