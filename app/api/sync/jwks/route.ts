import syncConfig from '@/sync.config';
import { withSyncServer } from '@/lib/sync/server';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

/** The public key(s) that verify sync tokens (empty when they are signed with SYNC_JWT_SECRET). */
export function GET(): Promise<Response> {
  return withSyncServer(syncConfig, (server) => server.jwks());
}
