/**
 * `npm run test:create-app`: checks the template's promise end to end. Makes a new app with
 * `create-app --link-deps` in a temporary directory and runs that app's own `npm test`
 * (typecheck, lint, unit tests, production build, its Playwright smoke test against its own
 * Postgres). The directory is removed afterwards unless KEEP_CREATED_APP=1.
 *
 * Env: CREATE_APP_E2E_PORT (default 3110) and CREATE_APP_E2E_PG_PORT (default 54340), the ports
 * of the new app's e2e server and cluster.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const parent = mkdtempSync(path.join(os.tmpdir(), 'lockstep-create-app-'));
// The new app's local Postgres runs as the postgres user, which must reach its data directory.
chmodSync(parent, 0o755);
const dir = path.join(parent, 'my-app');

function step(what: string, command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): void {
  console.log(`\n== test:create-app: ${what}`);
  const result = spawnSync(command, args, { cwd, env, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`${what} failed (exit ${result.status ?? result.signal})`);
}

let failed = false;
try {
  step('create-app', process.execPath, ['--import', 'tsx', 'scripts/create-app.ts', dir, '--link-deps'], process.cwd());
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NEXT_TELEMETRY_DISABLED: '1',
    E2E_PORT: process.env.CREATE_APP_E2E_PORT ?? '3110',
    LOCKSTEP_E2E_PG_PORT: process.env.CREATE_APP_E2E_PG_PORT ?? '54340',
  };
  // The template's own build and cluster folders must not leak into the new app's run.
  for (const name of ['LOCKSTEP_DIST_DIR', 'LOCKSTEP_E2E_PG_DIR', 'LOCKSTEP_TEST_PG_DIR']) delete env[name];
  step('npm test in the new app', 'npm', ['test'], dir, env);
  console.log(`\ntest:create-app: the new app passed its own npm test (${dir})`);
} catch (error: unknown) {
  failed = true;
  console.error(`\ntest:create-app: ${error instanceof Error ? error.message : String(error)} (in ${dir})`);
} finally {
  if (process.env.KEEP_CREATED_APP !== '1') rmSync(parent, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
