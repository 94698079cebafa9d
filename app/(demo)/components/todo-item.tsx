'use client';

import { useEffect, useState, type FormEvent } from 'react';
import type { todos } from '@/lib/sync/generated/client-schema';
import type { DemoWrites } from '../data';
import { useWriteError, WriteError } from './write-error';
import styles from '../demo.module.css';

type Todo = typeof todos.$inferSelect;

/** A todo: complete it, edit its text in place, or delete it. */
export function TodoItem({ todo, writes }: { todo: Todo; writes: DemoWrites }) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(todo.description);
  const [error, run] = useWriteError();
  // Shown at once on click; the live query confirms it a moment later (or a failed write undoes it).
  const [optimistic, setOptimistic] = useState<boolean | null>(null);
  useEffect(() => setOptimistic(null), [todo.completed]);
  const completed = optimistic ?? Boolean(todo.completed);

  function onToggle(checked: boolean) {
    setOptimistic(checked);
    run(async () => {
      try {
        await writes.setCompleted(todo.id, checked);
      } catch (error) {
        setOptimistic(null);
        throw error;
      }
    });
  }

  function onSave(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const text = draft.trim();
    if (!text) return;
    run(async () => {
      if (text !== todo.description) await writes.editTodo(todo.id, text);
      setEditing(false);
    });
  }

  return (
    <li className={styles.todo}>
      <input type="checkbox" checked={completed} aria-label={`Done: ${todo.description}`} onChange={(e) => onToggle(e.target.checked)} />
      {editing ? (
        <form onSubmit={onSave} className={styles.inlineForm}>
          <label>
            Edit todo <input value={draft} onChange={(e) => setDraft(e.target.value)} autoFocus required />
          </label>
          <button type="submit">Save</button>
          <button type="button" onClick={() => setEditing(false)}>
            Cancel
          </button>
        </form>
      ) : (
        <>
          <span className={completed ? styles.done : undefined}>{todo.description}</span>
          <button
            type="button"
            aria-label={`Edit ${todo.description}`}
            onClick={() => {
              setDraft(todo.description);
              setEditing(true);
            }}
          >
            Edit
          </button>
          <button type="button" aria-label={`Delete ${todo.description}`} onClick={() => run(() => writes.deleteTodo(todo.id))}>
            Delete
          </button>
        </>
      )}
      <WriteError error={error} />
    </li>
  );
}
