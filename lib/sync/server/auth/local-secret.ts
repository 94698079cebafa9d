import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Development secrets: generated once per checkout, kept in .data/ (git-ignored, mode 0600), and
 * reused by every process of that checkout, so tokens survive a restart of `npm run dev`.
 * Never used when NODE_ENV is production: a deployment must configure its secrets.
 */

/** The directory secrets are kept in: LOCKSTEP_DATA_DIR, else `.data` under the working directory. */
export function localDataDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  // Runtime paths, not assets: keep the bundler's file tracing out of them.
  return path.resolve(/*turbopackIgnore: true*/ env.LOCKSTEP_DATA_DIR ?? '.data');
}

/**
 * Reads the secret `name` from `dir`, creating it (32 random bytes, base64url) when missing. Two
 * processes racing to create it end up with the same secret: the file is created exclusively and
 * the loser reads the winner's.
 *
 * @example
 *   const secret = localSecret('sync-jwt-secret'); // .data/sync-jwt-secret
 */
export function localSecret(name: string, dir: string = localDataDir()): string {
  if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`local secret name "${name}" must be lower-case letters, digits and dashes`);
  const file = path.join(/*turbopackIgnore: true*/ dir, name);
  const existing = readSecret(file);
  if (existing) return existing;
  fs.mkdirSync(dir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  try {
    fs.writeFileSync(file, `${secret}\n`, { flag: 'wx', mode: 0o600 });
    return secret;
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // Another process created it between our read and write; its content wins. It may still be
    // writing, so wait for the (tiny) file to be complete.
    for (let attempt = 0; attempt < 50; attempt++) {
      const raced = readSecret(file);
      if (raced) return raced;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
    throw new Error(`${file} exists but is empty; delete it and retry`, { cause: error });
  }
}

function readSecret(file: string): string | undefined {
  try {
    const text = fs.readFileSync(file, 'utf8').trim();
    return text.length >= 32 ? text : undefined;
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
