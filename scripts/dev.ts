/** `npm run dev`: Postgres (embedded unless DATABASE_URL is set), migrations, seed, and `next dev`. */
import { supervise } from './lib/supervisor';

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? 'localhost';

await supervise({
  mode: 'dev',
  port,
  host,
  processes: () => [{ name: 'next', command: 'node_modules/.bin/next', args: ['dev', '--port', String(port), '--hostname', host] }],
});
