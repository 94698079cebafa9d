/** `npm start`: the production equivalent of `npm run dev`; run `npm run build` first. */
import { existsSync } from 'node:fs';
import { supervise } from './lib/supervisor';

if (!existsSync('.next/BUILD_ID')) {
  console.error('[lockstep] no production build found: run `npm run build` first.');
  process.exit(1);
}
const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? 'localhost';

await supervise({
  mode: 'start',
  port,
  host,
  processes: () => [
    { name: 'replicator', command: process.execPath, args: ['--import', 'tsx', 'workers/replicator.ts'] },
    { name: 'next', command: 'node_modules/.bin/next', args: ['start', '--port', String(port), '--hostname', host] },
  ],
});
