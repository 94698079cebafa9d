import type { NextAuthOptions } from 'next-auth';
import CredentialsProvider from 'next-auth/providers/credentials';
import { appDb } from '@/lib/db/client';
import { localSecret } from '@/lib/sync/server/auth/local-secret';
import { authorizeCredentials } from './credentials';

/**
 * NEXTAUTH_SECRET signs and encrypts the session cookie. Outside production a secret is
 * generated once into .data/nextauth-secret; in production next-auth refuses to run without one.
 */
function sessionSecret(): string | undefined {
  if (process.env.NEXTAUTH_SECRET) return process.env.NEXTAUTH_SECRET;
  return process.env.NODE_ENV === 'production' ? undefined : localSecret('nextauth-secret');
}

/**
 * The app's sign-in (next-auth 4): email and password checked against users.password_hash, the
 * session kept in a signed, encrypted JWT cookie whose `sub` is the user id. GET /api/sync/token
 * turns that session into a sync token.
 */
export const authOptions: NextAuthOptions = {
  secret: sessionSecret(),
  session: { strategy: 'jwt', maxAge: 30 * 24 * 60 * 60 },
  pages: { signIn: '/signin' },
  providers: [
    CredentialsProvider({
      name: 'Email and password',
      credentials: {
        email: { label: 'Email', type: 'email' },
        password: { label: 'Password', type: 'password' },
      },
      authorize: (credentials) => authorizeCredentials(appDb(), credentials),
    }),
  ],
  callbacks: {
    jwt({ token, user }) {
      if (user) token.sub = user.id;
      return token;
    },
    session({ session, token }) {
      if (session.user && token.sub) session.user.id = token.sub;
      return session;
    },
  },
};
