/** `npm run dev`: Postgres (embedded unless DATABASE_URL is set), migrations, seed, and `next dev`. */
import { supervise } from './lib/supervisor';

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? 'localhost';

await supervise({
  mode: 'dev',
  port,
  host,
  processes: () => [
    // Restarted when the sync rules or the schema change: a changed sync.config.ts is a new rules version.
    {
      name: 'replicator',
      command: process.execPath,
      args: ['--watch-path=sync.config.ts', '--watch-path=lib/db/schema.ts', '--import', 'tsx', 'workers/replicator.ts'],
    },
    { name: 'next', command: 'node_modules/.bin/next', args: ['dev', '--port', String(port), '--hostname', host] },
  ],
});
