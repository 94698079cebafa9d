/**
 * The replicator process: `npm run replicator` (also started by `npm run dev` and `npm start`).
 *   npm run replicator              run (leader, or hot standby while another instance leads)
 *   npm run replicator -- status    print the replication status as JSON and exit
 *   npm run replicator -- --resync  retire every rules version and build bucket storage anew
 * Needs DATABASE_URL (the app database) and SYNC_DATABASE_URL (bucket storage).
 */
import pg from 'pg';
import { loadSyncRules } from '@/lib/sync/replicator/load-rules';
import { createLogger } from '@/lib/sync/replicator/log';
import { Replicator } from '@/lib/sync/replicator/replicator';
import { replicatorStatus } from '@/lib/sync/replicator/status';
import { listRulesVersions, migrateStorage, retireRulesVersion } from '@/lib/sync/storage';

const log = createLogger({ component: 'replicator' });
const sourceUrl = process.env.DATABASE_URL;
const storageUrl = process.env.SYNC_DATABASE_URL;
if (!sourceUrl || !storageUrl) {
  log.error('DATABASE_URL and SYNC_DATABASE_URL must be set (npm run dev and npm start set both)');
  process.exit(2);
}
const args = process.argv.slice(2);

if (args[0] === 'status') {
  console.log(JSON.stringify(await replicatorStatus(sourceUrl, storageUrl), null, 2));
  process.exit(0);
}

let rules;
try {
  rules = await loadSyncRules();
} catch (error) {
  log.error('invalid sync rules', { error });
  process.exit(1);
}

if (args.includes('--resync')) {
  await migrateStorage(storageUrl);
  const storage = new pg.Pool({ connectionString: storageUrl, max: 1 });
  for (const v of await listRulesVersions(storage)) if (v.state !== 'retired') await retireRulesVersion(storage, v.id);
  await storage.end();
  log.info('retired every rules version; a new snapshot starts now');
}

const numberEnv = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const replicator = new Replicator({
  sourceUrl,
  storageUrl,
  rules,
  log,
  compactEveryMs: numberEnv('LOCKSTEP_COMPACT_EVERY_MS', 5 * 60_000),
  chunkSize: numberEnv('LOCKSTEP_SNAPSHOT_CHUNK_ROWS', 10_000),
  maxBatchChanges: numberEnv('LOCKSTEP_MAX_BATCH_CHANGES', 5_000),
});
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    void replicator.stop();
  });
}

// A status line every 30 s, with a warning when a slot holds too much WAL.
const statusTimer = setInterval(() => {
  replicatorStatus(sourceUrl, storageUrl)
    .then((status) => {
      const active = status.versions.find((v) => v.state === 'active') ?? status.versions[0];
      log.info('status', { role: replicator.role, lagSeconds: replicator.lagSeconds(), lagBytes: active?.slot?.lagBytes, lastCheckpoint: active?.lastCheckpoint?.opId, ops: active?.ops });
      for (const warning of status.warnings) log.warn(warning);
    })
    .catch((error: unknown) => log.warn('status check failed', { error }));
}, 30_000);
statusTimer.unref();

await replicator.run();
log.info('stopped');
process.exit(0);
