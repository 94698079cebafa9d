import { readFileSync } from 'node:fs';
import path from 'node:path';
import { bigint, customType, integer, pgEnum, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import rulesConfig from '@/sync.config';
import { announcements, listMembers, lists, todos, users } from '@/lib/db/schema';
import { bucket, compileSyncRules, defineSyncRules, eq, from, fromToken, inArray, lookup, token } from '@/lib/sync/config';
import { GENERATED_PATHS } from '../generate/generate';

const rules = compileSyncRules(rulesConfig);

/** The demo rules with one change applied by `change`, to show the version notices it. */
function demoWith(change: 'priority' | 'constant' | 'columns' | 'rename' | 'extra-query' | 'none') {
  return compileSyncRules(
    defineSyncRules({
      buckets: {
        me: bucket({
          priority: change === 'priority' ? 1 : 0,
          parameters: fromToken({ userId: token.sub }),
          data: ({ userId }) => [(change === 'columns' ? from(users).select(users.id, users.email) : from(users).omit(users.passwordHash)).where(eq(users.id, userId))],
        }),
        [change === 'rename' ? 'lists' : 'list']: bucket({
          priority: 1,
          parameters: [
            lookup(lists, { listId: lists.id }).where(eq(lists.ownerId, token.sub)),
            lookup(listMembers, { listId: listMembers.listId }).where(eq(listMembers.userId, token.sub), ...(change === 'extra-query' ? [inArray(listMembers.role, ['editor'])] : [])),
          ],
          data: ({ listId }) => [from(lists).where(eq(lists.id, listId)), from(todos).where(eq(todos.listId, listId)), from(listMembers).where(eq(listMembers.listId, listId))],
        }),
        announcements: bucket({ data: () => [from(announcements).where(eq(announcements.published, change !== 'constant'))] }),
      },
    }),
  );
}

describe('compileSyncRules on the demo rules', () => {
  it('describes its buckets and every table it reads', () => {
    expect(rules.buckets).toEqual([
      { name: 'me', priority: 0, parameters: ['userId'] },
      { name: 'list', priority: 1, parameters: ['listId'] },
      { name: 'announcements', priority: 3, parameters: [] },
    ]);
    expect(rules.sourceTables.map((t) => [t.name, t.primaryKey, t.data, t.parameters])).toEqual([
      ['announcements', ['id'], true, false],
      ['list_members', ['list_id', 'user_id'], true, true],
      ['lists', ['id'], true, true],
      ['todos', ['id'], true, false],
      ['users', ['id'], true, false],
    ]);
    expect(rules.sourceTables.find((t) => t.name === 'todos')?.columns.map((c) => `${c.name}:${c.pgType}`)).toEqual([
      'id:uuid',
      'list_id:uuid',
      'description:text',
      'notes:text',
      'completed:bool',
      'completed_at:timestamptz',
      'created_by:uuid',
      'created_at:timestamptz',
    ]);
  });

  it('has a version that is stable for equal rules and changes with any rule', () => {
    expect(compileSyncRules(rulesConfig).version).toBe(rules.version);
    expect(demoWith('none').version).toBe(rules.version);
    const versions = (['priority', 'constant', 'columns', 'rename', 'extra-query'] as const).map((c) => demoWith(c).version);
    expect(new Set([rules.version, ...versions]).size).toBe(6);
    expect(rules.version).toMatch(/^[0-9a-f]{16}$/);
  });

  it('writes idempotent publication SQL for exactly the tables read', () => {
    expect(rules.publicationName).toBe('lockstep');
    const sql = rules.publicationSql();
    expect(sql).toContain('ALTER PUBLICATION "lockstep" SET TABLE "public"."announcements", "public"."list_members", "public"."lists", "public"."todos", "public"."users";');
    expect(sql).toContain('CREATE PUBLICATION "lockstep" FOR TABLE "public"."announcements", "public"."list_members", "public"."lists", "public"."todos", "public"."users";');
    expect(rules.publicationDrift([{ schemaname: 'public', tablename: 'todos' }, { schemaname: 'public', tablename: 'sessions' }])).toEqual({
      missing: ['public.announcements', 'public.list_members', 'public.lists', 'public.users'],
      extra: ['public.sessions'],
    });
  });

  it('gives each client table a view over its store, with the row id as id', () => {
    const listMembersTable = rules.clientSchema.tables.find((t) => t.name === 'list_members')!;
    expect(listMembersTable.createStoreSql).toBe('CREATE TABLE IF NOT EXISTS "ls_data__list_members" (id TEXT PRIMARY KEY NOT NULL, data TEXT NOT NULL)');
    expect(listMembersTable.createViewSql).toBe(
      `CREATE VIEW "list_members" AS SELECT "id", json_extract(data, '$.list_id') AS "list_id", json_extract(data, '$.user_id') AS "user_id", json_extract(data, '$.role') AS "role" FROM "ls_data__list_members"`,
    );
    const usersTable = rules.clientSchema.tables.find((t) => t.name === 'users')!;
    expect(usersTable.columns.map((c) => `${c.key}:${c.sqliteType}`)).toEqual(['id:TEXT', 'email:TEXT', 'name:TEXT', 'createdAt:TEXT']);
    expect(rules.clientSchema.tables.find((t) => t.name === 'todos')!.columns.find((c) => c.key === 'completed')).toMatchObject({ sqliteType: 'INTEGER', wire: 'bool', tsType: 'boolean' });
  });

  it('matches the committed generated client schema (run npm run sync:generate after changing the rules)', () => {
    const committed = readFileSync(path.join(process.cwd(), GENERATED_PATHS.clientModule), 'utf8');
    expect(committed).toBe(rules.clientModuleSource());
  });
});

const level = pgEnum('level', ['low', 'high']);
const bytea = customType<{ data: Buffer }>({ dataType: () => 'bytea' });
const files = pgTable('files', {
  key: text('key').primaryKey(),
  size: bigint('size', { mode: 'bigint' }).notNull(),
  count: integer('count'),
  level: level('level').notNull(),
  content: bytea('content'),
  tags: text('tags').array().notNull(),
  grid: integer('grid').array().array(),
  ownerId: uuid('owner_id').notNull(),
  touched: timestamp('touched', { mode: 'string' }),
});

describe('client schema of every wire type', () => {
  const compiled = compileSyncRules(
    defineSyncRules({ buckets: { mine: bucket({ parameters: fromToken({ userId: token.sub }), data: ({ userId }) => [from(files).where(eq(files.ownerId, userId))] }) } }),
  );
  const [table] = compiled.clientSchema.tables;

  it('maps columns to SQLite types and reads bytea through unhex()', () => {
    expect(table?.columns.map((c) => [c.name, c.sqliteType, c.tsType])).toEqual([
      ['id', 'TEXT', 'string'],
      ['key', 'TEXT', 'string'],
      ['size', 'INTEGER', 'bigint'],
      ['count', 'INTEGER', 'number'],
      ['level', 'TEXT', '"low" | "high"'],
      ['content', 'BLOB', 'Uint8Array'],
      ['tags', 'TEXT', '(string | null)[]'],
      ['grid', 'TEXT', '(number | null)[][]'],
      ['owner_id', 'TEXT', 'string'],
      ['touched', 'TEXT', 'string'],
    ]);
    expect(table?.createViewSql).toContain(`unhex(json_extract(data, '$.content')) AS "content"`);
    expect(table?.createViewSql).toContain(`SELECT "id", json_extract(data, '$.key') AS "key"`);
  });

  it('writes typed Drizzle columns for them', () => {
    const source = compiled.clientModuleSource();
    expect(source).toContain("import { customType, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';");
    expect(source).toContain('size: int8Column("size").notNull(),');
    expect(source).toContain('count: integer("count", { mode: \'number\' }),');
    expect(source).toContain('level: text("level", { enum: ["low","high"] }).notNull(),');
    expect(source).toContain('content: bytesColumn("content"),');
    expect(source).toContain('tags: text("tags", { mode: \'json\' }).$type<(string | null)[]>().notNull(),');
    expect(source).toContain('ownerId: text("owner_id").notNull(),');
  });
});
