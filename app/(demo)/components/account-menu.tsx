'use client';

import { signOut } from 'next-auth/react';
import { forgetOfflineCopies } from '@/app/_offline/messages';
import type { DemoUser } from '../navigation';
import styles from '../demo.module.css';

/** Who is signed in, and signing out (which also forgets the offline copies of the pages). */
export function AccountMenu({ user }: { user: DemoUser }) {
  async function onSignOut() {
    await forgetOfflineCopies();
    await signOut({ callbackUrl: '/signin' });
  }
  return (
    <div className={styles.account}>
      <span aria-label="Signed in as">{user.name ?? user.email}</span>
      <button type="button" onClick={() => void onSignOut()}>
        Sign out
      </button>
    </div>
  );
}
