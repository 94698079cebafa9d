/**
 * The files `npm run create-app` writes into a new app over the copied template: one example
 * table (`notes`) in place of the demo's lists and todos. Kept as text so the template's own
 * typecheck never sees a second schema.
 */
export const appFiles: Record<string, string> = {
  'lib/db/schema.ts': `import { index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/** People who can sign in (next-auth credentials). \`password_hash\` never leaves the server. */
export const users = pgTable('users', {
  id: uuid('id').primaryKey().defaultRandom(),
  email: text('email').notNull().unique(),
  name: text('name'),
  passwordHash: text('password_hash'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** The example table: each user's own notes. Replace it with your tables. */
export const notes = pgTable(
  'notes',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    ownerId: uuid('owner_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    body: text('body').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('notes_owner_id_idx').on(t.ownerId)],
);

export type User = typeof users.$inferSelect;
export type Note = typeof notes.$inferSelect;
`,

  'sync.config.ts': `/**
 * What each user syncs (docs/sync-rules.md). After changing it or lib/db/schema.ts run
 * \`npm run db:generate && npm run sync:generate\`.
 */
import { notes, users } from '@/lib/db/schema';
import { bucket, defineSyncRules, eq, from, fromToken, token } from '@/lib/sync/config';

export default defineSyncRules({
  buckets: {
    /** The signed-in user's own row (without the password hash) and their notes. */
    mine: bucket({
      parameters: fromToken({ userId: token.sub }),
      data: ({ userId }) => [from(users).omit(users.passwordHash).where(eq(users.id, userId)), from(notes).where(eq(notes.ownerId, userId))],
    }),
  },
});
`,

  'lib/db/seed.ts': `/**
 * Seed data for an empty app database: none. Add users with \`npm run user:add -- <email> <password>\`,
 * or fill this in with data your app needs to start.
 */
export async function seedDemoData(_url: string): Promise<'seeded' | 'skipped'> {
  return 'skipped';
}
`,

  'app/actions/upload-handlers.ts': `import { forbidden, tableHandler } from '@/lib/sync/server/upload';
import { notes } from '@/lib/db/schema';

/** Who may write what (docs/writes.md): a user writes only their own notes. */
export const uploadHandlers = {
  notes: tableHandler(notes, {
    authorize(ctx) {
      if (ctx.op === 'PUT' && !ctx.before && ctx.values.ownerId === undefined) ctx.values.ownerId = ctx.user.id;
      for (const owner of [ctx.before?.ownerId, ctx.values.ownerId]) {
        if (owner !== undefined && owner !== ctx.user.id) throw forbidden('You can only write your own notes.');
      }
    },
  }),
};
`,

  'app/page.tsx': `import { getServerSession } from 'next-auth';
import { redirect } from 'next/navigation';
import { authOptions } from '@/lib/auth/options';
import { Notes } from './notes';

export const dynamic = 'force-dynamic';

/** The home page: who is signed in is decided here; the notes come from the local database. */
export default async function HomePage() {
  const session = await getServerSession(authOptions);
  if (!session?.user?.id) redirect('/signin');
  return (
    <main>
      <h1>My app</h1>
      <Notes userId={session.user.id} />
    </main>
  );
}
`,

  'app/notes.tsx': `'use client';

import { desc, eq } from 'drizzle-orm';
import { useState, type FormEvent } from 'react';
import { uploadTransaction } from '@/app/actions/upload';
import { clientSchema, notes } from '@/lib/sync/generated/client-schema';
import { SyncProvider, useLiveQuery, useSyncDatabase, useSyncStatus } from '@/lib/sync/react';

/** The example: notes read with useLiveQuery and written to the local database. */
export function Notes({ userId }: { userId: string }) {
  return (
    <SyncProvider schema={clientSchema} dbName={\`app-\${userId}\`} upload={uploadTransaction} fallback={<p>Opening the local database…</p>}>
      <Status />
      <NoteList userId={userId} />
    </SyncProvider>
  );
}

function Status() {
  const status = useSyncStatus();
  return <p role="status">{status?.connected ? 'Online' : 'Offline'} · pending uploads: {status?.pendingUploads ?? 0}</p>;
}

function NoteList({ userId }: { userId: string }) {
  const db = useSyncDatabase();
  const [body, setBody] = useState('');
  const { data } = useLiveQuery((q) => q.select().from(notes).where(eq(notes.ownerId, userId)).orderBy(desc(notes.createdAt)), [userId]);

  async function onAdd(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    await db.insert(notes).values({ id: crypto.randomUUID(), ownerId: userId, body, createdAt: new Date().toISOString() });
    setBody('');
  }

  return (
    <section aria-label="Notes">
      <form onSubmit={(e) => void onAdd(e)}>
        <label>
          New note <input value={body} onChange={(e) => setBody(e.target.value)} required />
        </label>
        <button type="submit">Add</button>
      </form>
      <ul aria-label="Notes list">
        {data?.map((note) => (
          <li key={note.id}>{note.body}</li>
        ))}
      </ul>
    </section>
  );
}
`,

  'scripts/add-user.ts': `/** \`npm run user:add -- <email> <password> [name]\`: adds a user who can sign in (the app database from DATABASE_URL, else the local one). */
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { hashPassword } from '@/lib/auth/password';
import { prepareDatabases } from '@/lib/db/prepare';
import { users } from '@/lib/db/schema';

const [email, password, name] = process.argv.slice(2);
if (!email || !password) {
  console.error('usage: npm run user:add -- <email> <password> [name]');
  process.exit(1);
}
const { databaseUrl, cluster } = await prepareDatabases({ seed: false });
const client = new pg.Client({ connectionString: databaseUrl });
await client.connect();
try {
  await drizzle(client).insert(users).values({ email: email.toLowerCase(), name: name ?? null, passwordHash: await hashPassword(password) });
  console.log(\`added \${email}\`);
} finally {
  await client.end();
  await cluster?.stop();
}
`,

  'e2e/smoke.spec.ts': `import { hashPassword } from '@/lib/auth/password';
import { expect, signIn, test, waitForSync } from '@/lib/sync/testing';

test('signed out, the home page asks you to sign in', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
});

test('signed in, a note written locally shows at once and reaches Postgres', async ({ page, sql }) => {
  const email = \`smoke-\${Date.now()}@example.com\`;
  await sql.query('INSERT INTO users (email, password_hash) VALUES ($1, $2)', [email, await hashPassword('smoke-password')]);
  await signIn(page, email, 'smoke-password');
  await expect(page.getByRole('heading', { name: 'My app' })).toBeVisible();
  // The local database is open and has its first checkpoint: from here on, writes show at once.
  await waitForSync(page);
  await page.getByLabel('New note').fill('Hello from the smoke test');
  await page.getByRole('button', { name: 'Add' }).click();
  await expect(page.getByRole('list', { name: 'Notes list' })).toContainText('Hello from the smoke test');
  await expect.poll(async () => (await sql.query("SELECT 1 FROM notes WHERE body = 'Hello from the smoke test'")).length, { timeout: 30_000 }).toBe(1);
});
`,

  'README.md': `# My app

A Next.js app made local-first on Postgres with Lockstep: components read and write a SQLite
database in the browser; Lockstep keeps it in sync with Postgres.

    npm install
    npm run dev                       # Postgres, migrations, replicator, Next on :3000
    npm run user:add -- you@example.com your-password

Start at [docs/getting-started.md](docs/getting-started.md): the example table is \`notes\`
(lib/db/schema.ts, sync.config.ts, app/actions/upload-handlers.ts, app/notes.tsx).
Tests: \`npm test\` (typecheck, lint, unit tests, the Playwright smoke test in e2e/; see
[docs/testing.md](docs/testing.md)).
`,
};
