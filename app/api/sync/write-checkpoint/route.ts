import syncConfig from '@/sync.config';
import { withSyncServer } from '@/lib/sync/server';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

/** Records a write checkpoint for the token's user and the body's client_id. */
export function POST(request: Request): Promise<Response> {
  return withSyncServer(syncConfig, (server) => server.writeCheckpoint(request));
}
