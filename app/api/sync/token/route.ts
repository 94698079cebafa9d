import { getServerSession } from 'next-auth';
import syncConfig from '@/sync.config';
import { authOptions } from '@/lib/auth/options';
import { withSyncServer } from '@/lib/sync/server';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

/** A short-lived sync token for the signed-in user: `{ token, expires_at }`, or 401. */
export async function GET(): Promise<Response> {
  const session = await getServerSession(authOptions);
  return withSyncServer(syncConfig, (server) => server.token(session));
}
