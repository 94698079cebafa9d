import { asc, count, eq } from 'drizzle-orm';
import { appDb } from '@/lib/db/client';
import { lists, todos, users } from '@/lib/db/schema';

// Reads the database on every request: the data changes under us.
export const dynamic = 'force-dynamic';

export default async function HomePage() {
  const db = appDb();
  const rows = await db
    .select({ id: lists.id, name: lists.name, owner: users.name, todoCount: count(todos.id) })
    .from(lists)
    .innerJoin(users, eq(users.id, lists.ownerId))
    .leftJoin(todos, eq(todos.listId, lists.id))
    .groupBy(lists.id, users.name)
    .orderBy(asc(lists.name));

  return (
    <main>
      <h1>Lockstep</h1>
      <p className="muted">Local-first lists on Postgres. Sign-in and live sync arrive with the sync client.</p>
      <h2>Lists in Postgres</h2>
      {rows.length === 0 ? (
        <p data-testid="no-lists">No lists yet. Run <code>npm run db:seed</code>.</p>
      ) : (
        <ul className="lists" data-testid="lists">
          {rows.map((list) => (
            <li key={list.id}>
              <strong>{list.name}</strong> <span className="muted">· {list.owner} · {list.todoCount} todos</span>
            </li>
          ))}
        </ul>
      )}
    </main>
  );
}
