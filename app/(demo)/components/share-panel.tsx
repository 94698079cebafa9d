'use client';

import { eq } from 'drizzle-orm';
import { useEffect, useState, type FormEvent } from 'react';
import { listMembers, type lists } from '@/lib/sync/generated/client-schema';
import { useLiveQuery } from '@/lib/sync/react';
import type { DemoWrites } from '../data';
import { navigate, type DemoUser } from '../navigation';
import { findPersonByEmail, listPeople, type Person } from '../people';
import { useWriteError, WriteError } from './write-error';
import styles from '../demo.module.css';

type List = typeof lists.$inferSelect;

/**
 * Who a list is shared with. Membership is synced (list_members); other people's emails are not
 * (clients sync only their own users row), so they are looked up on the server to label the
 * rows, and shown as short ids while offline.
 */
export function SharePanel({ list, user, writes }: { list: List; user: DemoUser; writes: DemoWrites }) {
  const { data: members } = useLiveQuery((db) => db.select().from(listMembers).where(eq(listMembers.listId, list.id)), [list.id]);
  const people = usePeople(list.id, (members ?? []).map((m) => m.userId).join(','));
  const [email, setEmail] = useState('');
  const [message, setMessage] = useState<string | null>(null);
  const [error, run] = useWriteError();
  const isOwner = list.ownerId === user.id;
  const label = (id: string) => (id === user.id ? 'you' : (people.get(id)?.email ?? `user ${id.slice(0, 8)}`));

  function onShare(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setMessage(null);
    run(async () => {
      let person: Person | null;
      try {
        person = await findPersonByEmail(email);
      } catch {
        setMessage('Sharing needs the network to look up the email. Try again when online.');
        return;
      }
      if (!person) return setMessage(`No user with the email ${email}.`);
      if (person.id === list.ownerId || members?.some((m) => m.userId === person.id)) return setMessage(`${person.email} can already see this list.`);
      await writes.addMember(list.id, person.id);
      setEmail('');
      setMessage(`Shared with ${person.email}.`);
    });
  }

  return (
    <section aria-labelledby="share-heading" className={styles.panel}>
      <h3 id="share-heading">Shared with</h3>
      <p className={styles.muted}>Owner: {label(list.ownerId)}</p>
      {members && members.length > 0 ? (
        <ul aria-label="Members">
          {members.map((m) => (
            <li key={m.id}>
              {label(m.userId)} <span className={styles.muted}>({m.role})</span>{' '}
              {m.userId === user.id ? (
                <button
                  type="button"
                  onClick={() =>
                    run(async () => {
                      await writes.removeMember(list.id, m.userId);
                      navigate(null);
                    })
                  }
                >
                  Leave list
                </button>
              ) : isOwner ? (
                <button type="button" aria-label={`Remove ${label(m.userId)}`} onClick={() => run(() => writes.removeMember(list.id, m.userId))}>
                  Remove
                </button>
              ) : null}
            </li>
          ))}
        </ul>
      ) : (
        <p className={styles.muted}>Nobody else yet.</p>
      )}
      <form onSubmit={onShare} className={styles.inlineForm}>
        <label>
          Share with (email) <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} required />
        </label>
        <button type="submit">Share</button>
      </form>
      {message ? <p role="status">{message}</p> : null}
      <WriteError error={error} />
    </section>
  );
}

/** Labels for the people of a list, fetched again when its members change; empty offline. */
function usePeople(listId: string, memberKey: string): Map<string, Person> {
  const [people, setPeople] = useState(() => new Map<string, Person>());
  useEffect(() => {
    let active = true;
    listPeople(listId).then(
      (found) => {
        if (active) setPeople(new Map(found.map((p) => [p.id, p])));
      },
      () => {
        // Offline: keep the labels we have; ids stand in for the rest.
      },
    );
    return () => {
      active = false;
    };
  }, [listId, memberKey]);
  return people;
}
