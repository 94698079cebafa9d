/** `npm start`: the production equivalent of `npm run dev`; run `npm run build` first. */
import { existsSync } from 'node:fs';
import { localSecret } from '@/lib/sync/server/auth/local-secret';
import { supervise } from './lib/supervisor';

if (!existsSync(`${process.env.LOCKSTEP_DIST_DIR ?? '.next'}/BUILD_ID`)) {
  console.error('[lockstep] no production build found: run `npm run build` first.');
  process.exit(1);
}
const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? 'localhost';

// A production build refuses to run without its secrets. Running it on this machine, make them
// once into .data/ (as `npm run dev` does) and say so; a deployment sets its own.
for (const [variable, name] of [['NEXTAUTH_SECRET', 'nextauth-secret'], ['SYNC_JWT_SECRET', 'sync-jwt-secret']] as const) {
  if (process.env[variable]) continue;
  process.env[variable] = localSecret(name);
  console.warn(`[lockstep] ${variable} is not set: using the local one in .data/${name}. Set it in a real deployment.`);
}
process.env.NEXTAUTH_URL ??= `http://${host}:${port}`;

await supervise({
  mode: 'start',
  port,
  host,
  processes: () => [
    { name: 'replicator', command: process.execPath, args: ['--import', 'tsx', 'workers/replicator.ts'] },
    { name: 'next', command: 'node_modules/.bin/next', args: ['start', '--port', String(port), '--hostname', host] },
  ],
});
