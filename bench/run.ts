/**
 * `npm run bench [-- --quick]`: runs every benchmark script in bench/ one after another (each
 * starts what it needs: its own Postgres unless DATABASE_URL is set) and writes the replicator's
 * figures to bench/results/latest.json. See bench/README.md.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { benchReplicator } from './replicator';

const quick = process.argv.includes('--quick');
const scripts = ['bench/row-evaluator.ts', 'bench/storage.ts', 'bench/stream.ts', 'bench/client.ts'].filter((file) => fs.existsSync(file));
for (const script of scripts) {
  console.log(`\n== ${script}`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', script, ...(quick ? ['--quick'] : [])], { stdio: 'inherit' });
  if (result.status !== 0) console.error(`${script} exited with ${result.status ?? result.signal}`);
}
console.log('\n== bench/replicator.ts');
const replicator = await benchReplicator();
console.table(replicator);
const machine = { cpus: os.cpus().length, model: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version };
fs.mkdirSync('bench/results', { recursive: true });
fs.writeFileSync('bench/results/latest.json', `${JSON.stringify({ at: new Date().toISOString(), quick, machine, replicator }, null, 2)}\n`);
console.log('wrote bench/results/latest.json');
