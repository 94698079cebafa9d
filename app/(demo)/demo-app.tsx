'use client';

import { useSearchParams } from 'next/navigation';
import { useEffect } from 'react';
import { uploadTransaction } from '@/app/actions/upload';
import { rememberThisPage } from '@/app/_offline/messages';
import { clientSchema } from '@/lib/sync/generated/client-schema';
import { SyncProvider } from '@/lib/sync/react';
import { AccountMenu } from './components/account-menu';
import { ListPage } from './components/list-page';
import { ListsOverview } from './components/lists-overview';
import { RejectedWrites } from './components/rejected-writes';
import { StatusBar } from './components/status-bar';
import type { DemoUser } from './navigation';
import styles from './demo.module.css';

/** The signed-in app: one local database per user, the list named in `?list=` or the overview. */
export function DemoApp({ user }: { user: DemoUser }) {
  // Keep this page for offline reloads (public/sw.js).
  useEffect(() => rememberThisPage(), []);
  return (
    <div className={styles.app}>
      <header className={styles.header}>
        <h1>Lockstep</h1>
        <AccountMenu user={user} />
      </header>
      <SyncProvider schema={clientSchema} dbName={`lockstep-${user.id}`} upload={uploadTransaction} fallback={<p className={styles.muted}>Opening your lists…</p>}>
        <StatusBar />
        <main>
          <Screen user={user} />
        </main>
        <RejectedWrites />
      </SyncProvider>
    </div>
  );
}

function Screen({ user }: { user: DemoUser }) {
  const listId = useSearchParams().get('list');
  return listId ? <ListPage key={listId} listId={listId} user={user} /> : <ListsOverview user={user} />;
}
