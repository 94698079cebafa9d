/**
 * `npm run --silent sync:token -- <user id> [--ttl <seconds>] [--claims '<json object>']`
 *
 * Prints a sync token for the user, signed with the same key the app uses (SYNC_JWT_SECRET or
 * SYNC_JWT_PRIVATE_KEY, else the development secret in .data/), for scripts, tests and benchmarks:
 *   curl -N -H "authorization: Bearer $(npm run --silent sync:token -- $USER_ID)" \
 *        -H 'content-type: application/json' -d '{"client_id":"curl"}' http://localhost:3000/api/sync/stream
 */
import { parseArgs } from 'node:util';
import { isLockstepError } from '@/lib/sync/errors';
import { signSyncToken, syncAuthFromEnv } from '@/lib/sync/server';

const usage = "usage: npm run --silent sync:token -- <user id> [--ttl <seconds>] [--claims '<json object>']";

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { ttl: { type: 'string' }, claims: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help || positionals.length !== 1) {
    console.error(usage);
    process.exit(values.help ? 0 : 2);
  }
  const ttlSeconds = values.ttl === undefined ? undefined : Number(values.ttl);
  if (ttlSeconds !== undefined && !(Number.isInteger(ttlSeconds) && ttlSeconds > 0)) throw new Error(`--ttl must be a positive number of seconds, not "${values.ttl}"`);
  const claims = values.claims === undefined ? {} : (JSON.parse(values.claims) as unknown);
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw new Error('--claims must be a JSON object');
  const { token } = await signSyncToken(await syncAuthFromEnv(), { sub: positionals[0]!, claims: claims as Record<string, unknown>, ...(ttlSeconds ? { ttlSeconds } : {}) });
  process.stdout.write(`${token}\n`);
}

main().catch((error: unknown) => {
  console.error(isLockstepError(error) ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : error);
  process.exit(1);
});
