import syncConfig from '@/sync.config';
import { withSyncServer } from '@/lib/sync/server';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

/** The sync stream (docs/protocol.md): bearer sync token in, NDJSON checkpoints and data out. */
export function POST(request: Request): Promise<Response> {
  return withSyncServer(syncConfig, (server) => server.stream(request));
}
