'use client';

import { asc, eq } from 'drizzle-orm';
import { useState, type FormEvent } from 'react';
import { lists, todos } from '@/lib/sync/generated/client-schema';
import { useLiveQuery } from '@/lib/sync/react';
import { useDemoWrites } from '../data';
import { hrefOf, navigate, type DemoUser } from '../navigation';
import { SharePanel } from './share-panel';
import { TodoItem } from './todo-item';
import { useWriteError, WriteError } from './write-error';
import styles from '../demo.module.css';

/** One list: its todos (add, edit, complete, delete) and who it is shared with. */
export function ListPage({ listId, user }: { listId: string; user: DemoUser }) {
  const writes = useDemoWrites(user.id);
  const [description, setDescription] = useState('');
  const [error, run] = useWriteError();
  const list = useLiveQuery((db) => db.select().from(lists).where(eq(lists.id, listId)), [listId]);
  const items = useLiveQuery((db) => db.select().from(todos).where(eq(todos.listId, listId)).orderBy(asc(todos.createdAt), asc(todos.id)), [listId]);
  const current = list.data?.[0];

  const back = (
    <a
      href={hrefOf(null)}
      onClick={(e) => {
        e.preventDefault();
        navigate(null);
      }}
    >
      ← All lists
    </a>
  );

  if (list.loading) return <p className={styles.muted}>Loading…</p>;
  if (!current) {
    return (
      <section>
        {back}
        <p role="status">This list is not on this device: it was deleted, or you are no longer a member.</p>
      </section>
    );
  }
  const isOwner = current.ownerId === user.id;

  function onAdd(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const text = description.trim();
    if (!text) return;
    run(async () => {
      await writes.addTodo(listId, text);
      setDescription('');
    });
  }

  return (
    <section aria-labelledby="list-heading">
      {back}
      <h2 id="list-heading">{current.name}</h2>
      <form onSubmit={onAdd} className={styles.inlineForm}>
        <label>
          New todo <input value={description} onChange={(e) => setDescription(e.target.value)} required />
        </label>
        <button type="submit">Add</button>
      </form>
      <WriteError error={error} />
      {items.data && items.data.length > 0 ? (
        <ul aria-label="Todos" data-testid="todos" className={styles.todos}>
          {items.data.map((todo) => (
            <TodoItem key={todo.id} todo={todo} writes={writes} />
          ))}
        </ul>
      ) : (
        <p className={styles.muted}>Nothing to do.</p>
      )}
      <SharePanel list={current} user={user} writes={writes} />
      {isOwner ? (
        <button
          type="button"
          className={styles.danger}
          onClick={() =>
            run(async () => {
              await writes.deleteList(listId);
              navigate(null);
            })
          }
        >
          Delete list
        </button>
      ) : null}
    </section>
  );
}
