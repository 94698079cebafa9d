import { eq } from 'drizzle-orm';
import { z } from 'zod';
import type { AppDatabase } from '@/lib/db/client';
import { users } from '@/lib/db/schema';
import { hashPassword, verifyPassword } from './password';

/** The user a successful sign-in yields; next-auth puts `id` in the session token's `sub`. */
export interface SignedInUser {
  id: string;
  email: string;
  name: string | null;
}

const credentialsSchema = z.object({
  email: z.string().trim().toLowerCase().min(3).max(320),
  password: z.string().min(1).max(1024),
});

/** Compared against when the email is unknown, so a miss costs as long as a wrong password. */
let decoy: Promise<string> | undefined;

/**
 * Checks an email and password against users.password_hash (scrypt). Returns the user, or null
 * for an unknown email, a user without a password, a wrong password or malformed input; all of
 * them take the same time, so response times do not reveal which emails exist.
 *
 * @example
 *   const user = await authorizeCredentials(appDb(), { email: 'alice@example.com', password: 'alice-password' });
 */
export async function authorizeCredentials(db: AppDatabase, credentials: unknown): Promise<SignedInUser | null> {
  const parsed = credentialsSchema.safeParse(credentials);
  decoy ??= hashPassword('lockstep decoy password');
  if (!parsed.success) {
    await verifyPassword('x', await decoy);
    return null;
  }
  const [user] = await db
    .select({ id: users.id, email: users.email, name: users.name, passwordHash: users.passwordHash })
    .from(users)
    .where(eq(users.email, parsed.data.email))
    .limit(1);
  const ok = await verifyPassword(parsed.data.password, user?.passwordHash ?? (await decoy));
  if (!user || !user.passwordHash || !ok) return null;
  return { id: user.id, email: user.email, name: user.name };
}
