'use client';

import { asc, sql } from 'drizzle-orm';
import { useState, type FormEvent } from 'react';
import { lists } from '@/lib/sync/generated/client-schema';
import { useLiveQuery } from '@/lib/sync/react';
import { useDemoWrites } from '../data';
import { navigate, hrefOf, type DemoUser } from '../navigation';
import { useWriteError, WriteError } from './write-error';
import styles from '../demo.module.css';

/** Every list the user owns or shares, with its open todos, and a form to start a new one. */
export function ListsOverview({ user }: { user: DemoUser }) {
  const writes = useDemoWrites(user.id);
  const [name, setName] = useState('');
  const [error, run] = useWriteError();
  // The subqueries name the outer table in full: Drizzle writes a lone table's columns unqualified.
  const { data, loading } = useLiveQuery(
    (db) =>
      db
        .select({
          id: lists.id,
          name: lists.name,
          ownerId: lists.ownerId,
          open: sql<number>`(SELECT count(*) FROM todos t WHERE t.list_id = "lists"."id" AND NOT t.completed)`,
          total: sql<number>`(SELECT count(*) FROM todos t WHERE t.list_id = "lists"."id")`,
        })
        .from(lists)
        .orderBy(asc(lists.name)),
    [],
  );

  function onCreate(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const trimmed = name.trim();
    if (!trimmed) return;
    run(async () => {
      const id = await writes.createList(trimmed);
      setName('');
      navigate(id);
    });
  }

  return (
    <section aria-labelledby="lists-heading">
      <h2 id="lists-heading">Your lists</h2>
      {loading ? (
        <p className={styles.muted}>Loading…</p>
      ) : data && data.length > 0 ? (
        <ul aria-label="Lists" data-testid="lists" className={styles.lists}>
          {data.map((list) => (
            <li key={list.id}>
              <a
                href={hrefOf(list.id)}
                onClick={(e) => {
                  e.preventDefault();
                  navigate(list.id);
                }}
              >
                {list.name}
              </a>{' '}
              <span className={styles.muted}>
                {list.open} open of {list.total}
                {list.ownerId === user.id ? '' : ' · shared with you'}
              </span>
            </li>
          ))}
        </ul>
      ) : (
        <p className={styles.muted}>No lists yet. Start one below.</p>
      )}
      <form onSubmit={onCreate} className={styles.inlineForm}>
        <label>
          New list name <input value={name} onChange={(e) => setName(e.target.value)} required />
        </label>
        <button type="submit">Create list</button>
      </form>
      <WriteError error={error} />
    </section>
  );
}
