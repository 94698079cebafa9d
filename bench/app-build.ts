/**
 * The app's production build for the benchmarks that run the real app (bench/upload.ts,
 * bench/stream.ts): `next build` into a dist dir of its own under .data/ (LOCKSTEP_DIST_DIR), made
 * once per `npm run bench` (bench/run.ts builds it, then hands it to the scripts through
 * BENCH_APP_DIST_DIR).
 *
 * A build already in the dist dir is reused when the hash of its inputs still matches: every file
 * git sees in the working tree (tracked, or untracked and not ignored) except those no build reads
 * (bench/, docs/, e2e/, scripts/, tests, Markdown; of tsconfig.json only its compilerOptions), plus
 * the installed Next's version and the NEXT_PUBLIC_* variables. A reuse is said so in the output, with the time of the build reused.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Where the benchmarks build the app unless told otherwise. */
export const DEFAULT_DIST_DIR = '.data/next-bench';
/** Set by bench/run.ts: the dist dir holds this run's build, to be used as it is. */
export const DIST_DIR_ENV = 'BENCH_APP_DIST_DIR';
const INPUTS_FILE = 'lockstep-bench-inputs.sha256';

export interface AppBuild {
  distDir: string;
  /** True when an existing build with the same inputs was used instead of building. */
  reused: boolean;
  /** Seconds the build took now (0 when reused). */
  seconds: number;
  /** sha256 of the build's inputs (see the file's comment). */
  inputs: string;
  /** When the build in use was made. */
  builtAt: Date;
}

/** Paths no `next build` of the app reads. */
function outsideBuild(file: string): boolean {
  return (
    /^(bench|docs|e2e|test|test-results|scripts|playwright-report)\//.test(file) ||
    /(^|\/)__tests__\//.test(file) ||
    /\.(test|spec)\.[cm]?[jt]sx?$/.test(file) ||
    file.endsWith('.md') ||
    file === 'tsconfig.tsbuildinfo'
  );
}

/** The hash of what the build is made from (see the file's comment). */
export function appInputsHash(root = process.cwd()): string {
  const listed = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  if (listed.status !== 0) throw new Error(`git ls-files failed: ${listed.stderr}`);
  const files = [...new Set(listed.stdout.split('\0').filter((f) => f.length > 0 && !outsideBuild(f)))].sort();
  const hash = createHash('sha256');
  for (const file of files) {
    const full = path.join(root, file);
    // Listed but deleted in the working tree (a tracked file removed and not yet committed).
    if (!existsSync(full) || !statSync(full).isFile()) continue;
    hash.update(`${file}\0`);
    // Another build (`next build` adds its dist dir's types to tsconfig.json's include) must not
    // make ours stale: of tsconfig.json, only the compiler options are the build's input.
    if (file === 'tsconfig.json') hash.update(JSON.stringify((JSON.parse(readFileSync(full, 'utf8')) as { compilerOptions?: unknown }).compilerOptions ?? null));
    else hash.update(readFileSync(full));
    hash.update('\0');
  }
  const next = JSON.parse(readFileSync(path.join(root, 'node_modules/next/package.json'), 'utf8')) as { version: string };
  hash.update(`next@${next.version}\0`);
  for (const key of Object.keys(process.env).filter((k) => k.startsWith('NEXT_PUBLIC_')).sort()) hash.update(`${key}=${process.env[key]}\0`);
  return hash.digest('hex');
}

/**
 * A production build of the app in `distDir`: the one there when its inputs hash matches (unless
 * `force`), else a new one (`next build`, after copying sqlite-wasm's files into public/).
 */
export function ensureAppBuild(options: { distDir?: string; force?: boolean; log?: (line: string) => void } = {}): AppBuild {
  const distDir = options.distDir ?? DEFAULT_DIST_DIR;
  const log = options.log ?? ((line: string) => console.log(`[bench:build] ${line}`));
  const inputs = appInputsHash();
  const stamp = path.join(distDir, INPUTS_FILE);
  const buildId = path.join(distDir, 'BUILD_ID');
  if (!options.force && existsSync(buildId) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === inputs) {
    const builtAt = statSync(stamp).mtime;
    log(`reusing the production build in ${distDir} (built ${builtAt.toISOString()}; its inputs hash ${inputs.slice(0, 12)} matches this checkout; --build makes a new one)`);
    return { distDir, reused: true, seconds: 0, inputs, builtAt };
  }
  log(`building the app into ${distDir} (inputs ${inputs.slice(0, 12)})…`);
  const started = performance.now();
  // `next build` rewrites tsconfig.json (it adds the dist dir's types): put it back.
  const tsconfig = readFileSync('tsconfig.json', 'utf8');
  try {
    for (const [command, args] of [
      [process.execPath, ['--import', 'tsx', 'scripts/copy-sqlite-wasm.ts']],
      ['node_modules/.bin/next', ['build']],
    ] as const) {
      const result = spawnSync(command, args, { stdio: 'inherit', env: { ...process.env, LOCKSTEP_DIST_DIR: distDir, NEXT_TELEMETRY_DISABLED: '1' } });
      if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status ?? result.signal})`);
    }
  } finally {
    writeFileSync('tsconfig.json', tsconfig);
  }
  // The hash of the inputs as they were when the build started: a file changed during the build
  // makes the next run build again.
  writeFileSync(stamp, `${inputs}\n`);
  const seconds = Math.round((performance.now() - started) / 100) / 10;
  log(`built in ${seconds} s`);
  return { distDir, reused: false, seconds, inputs, builtAt: new Date() };
}

/**
 * The build a benchmark script runs: the one bench/run.ts made for this run (DIST_DIR_ENV), else
 * ensureAppBuild's (`force` with the script's --build).
 */
export function appBuildForScript(force: boolean): AppBuild {
  const given = process.env[DIST_DIR_ENV];
  if (given && !force) {
    if (!existsSync(path.join(given, 'BUILD_ID'))) throw new Error(`${DIST_DIR_ENV}=${given} holds no production build`);
    return { distDir: given, reused: true, seconds: 0, inputs: readFileSync(path.join(given, INPUTS_FILE), 'utf8').trim(), builtAt: statSync(path.join(given, 'BUILD_ID')).mtime };
  }
  return ensureAppBuild({ force });
}
