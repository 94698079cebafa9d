import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { prepareDatabases, type PreparedDatabases } from '@/lib/db/prepare';
import { isAlive } from '@/lib/db/postgres/local-cluster';
import { isLockstepError } from '@/lib/sync/errors';

/**
 * Runs the app's processes (Next, and later the replicator) next to the databases they need,
 * for `npm run dev` and `npm start`. Ctrl-C (or SIGTERM) stops every process it started,
 * Postgres included. Each child leads its own process group so that its own children (Next's
 * workers) stop with it; their group ids are written to .data/run-<port>.json so a run killed
 * with SIGKILL is cleaned up by the next one.
 */
export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

export interface SupervisorOptions {
  mode: 'dev' | 'start';
  port: number;
  host: string;
  processes: (databases: PreparedDatabases) => ProcessSpec[];
}

const root = process.cwd();
const log = (line: string) => console.log(`[lockstep] ${line}`);

export async function supervise(options: SupervisorOptions): Promise<void> {
  const runFile = path.join(root, '.data', `run-${options.port}.json`);
  cleanUpOrphans(runFile);

  let databases: PreparedDatabases;
  try {
    databases = await prepareDatabases({ log });
  } catch (error) {
    fail(error);
  }

  const children = new Map<string, ChildProcess>();
  let stopping = false;

  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    log('stopping…');
    await Promise.all([...children.values()].map((child) => stopGroup(child)));
    await databases.cluster?.stop();
    fs.rmSync(runFile, { force: true });
    process.exit(code);
  };

  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stopAll(0));

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databases.databaseUrl,
    SYNC_DATABASE_URL: databases.syncDatabaseUrl,
    NEXT_TELEMETRY_DISABLED: '1',
  };
  for (const spec of options.processes(databases)) {
    const child = spawn(spec.command, spec.args, { cwd: root, env: { ...env, ...spec.env }, stdio: 'inherit', detached: true });
    children.set(spec.name, child);
    child.on('exit', (code, signal) => {
      if (stopping) return;
      log(`${spec.name} exited (${signal ?? `code ${code}`}); stopping the rest`);
      void stopAll(code === 0 ? 1 : (code ?? 1));
    });
  }
  fs.mkdirSync(path.dirname(runFile), { recursive: true });
  fs.writeFileSync(runFile, JSON.stringify({ supervisor: process.pid, groups: [...children.values()].map((c) => c.pid) }));
  log(`${options.mode === 'dev' ? 'development' : 'production'} server starting on http://${options.host === '127.0.0.1' ? '127.0.0.1' : 'localhost'}:${options.port}`);
}

function fail(error: unknown): never {
  if (isLockstepError(error)) {
    console.error(`\n[lockstep] ${error.code}: ${error.message}\n`);
  } else {
    console.error('[lockstep] could not start:', error);
  }
  process.exit(1);
}

/** Stops a child's whole process group: SIGTERM, then SIGKILL after 10 s. */
function stopGroup(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return resolve();
    const pid = child.pid;
    const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      // Grandchildren that ignored SIGTERM must not outlive us.
      signalGroup(pid, 'SIGKILL');
      resolve();
    });
    signalGroup(pid, 'SIGTERM');
  });
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // Already gone.
  }
}

/** Process groups recorded by a supervisor that was killed (SIGKILL) are stopped before we start. */
function cleanUpOrphans(runFile: string): void {
  let record: { supervisor?: number; groups?: number[] };
  try {
    record = JSON.parse(fs.readFileSync(runFile, 'utf8')) as typeof record;
  } catch {
    return;
  }
  if (record.supervisor && record.supervisor !== process.pid && isAlive(record.supervisor)) {
    fail(new Error(`another Lockstep server (pid ${record.supervisor}) is running with this port; stop it first`));
  }
  for (const pgid of record.groups ?? []) {
    if (groupAlive(pgid)) {
      log(`stopping process group ${pgid} left running by a killed run`);
      signalGroup(pgid, 'SIGKILL');
    }
  }
  fs.rmSync(runFile, { force: true });
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}
