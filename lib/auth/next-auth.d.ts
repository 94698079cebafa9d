import type { DefaultSession } from 'next-auth';

declare module 'next-auth' {
  /** The session as the app sees it: the signed-in user's id is always there. */
  interface Session {
    user: { id: string } & DefaultSession['user'];
  }
}
