/**
 * `npm run create-app -- <dir> [--link-deps]`: a new app from this template, without the demo.
 *
 * Copies the kit (lib/, scripts/, workers/, docs/, the sync routes, sign-in, config files) into
 * <dir>, leaves out the demo (its pages, tables, seed data, e2e tests) and the kit's own tests and
 * benchmarks, then writes a minimal app around one example table (`notes`): its Drizzle schema,
 * sync.config.ts, upload handlers, a home page that reads and writes it through the local
 * database, a script to add a user, and a Playwright smoke test. Finally it generates the
 * migrations (drizzle-kit) and the client schema (sync:generate) in <dir>.
 *
 * --link-deps hard-links this checkout's node_modules into <dir> instead of leaving `npm install`
 * to you (quick to try out; a real app installs its own).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { appFiles } from './lib/create-app-files';

const args = process.argv.slice(2);
const target = args.find((a) => !a.startsWith('--'));
const linkDeps = args.includes('--link-deps');
if (!target) {
  console.error('usage: npm run create-app -- <dir> [--link-deps]');
  process.exit(1);
}

const root = process.cwd();
const dir = path.resolve(target);
if (existsSync(dir) && readdirSync(dir).length > 0) {
  console.error(`create-app: ${dir} exists and is not empty.`);
  process.exit(1);
}

/** Paths (relative to the template, with forward slashes) that a new app does not get. */
const LEFT_OUT = [
  /^\.git(\/|$)/,
  /^node_modules(\/|$)/,
  /^\.next(\/|$)/,
  /^\.data(\/|$)/,
  /^test-results(\/|$)/,
  /^playwright-report(\/|$)/,
  /^bench(\/|$)/,
  /^seeds(\/|$)/,
  /^public\/sqlite(\/|$)/, // copied again by prebuild/predev
  /^app\/\(demo\)(\/|$)/,
  /^app\/\(lockstep-dev\)(\/|$)/,
  /^e2e(\/|$)/,
  /^drizzle(\/|$)/, // generated again for the new schema
  /^lib\/sync\/generated(\/|$)/,
  /^test\/fixtures(\/|$)/, // the kit's own test fixtures (test/db.ts and the global setup stay)
  /(^|\/)__tests__(\/|$)/,
  /\.(int\.)?test\.tsx?$/,
  /\.test-d\.ts$/,
  /^tsconfig\.tsbuildinfo$/,
  /^scripts\/create-app\.ts$/,
  /^scripts\/test-create-app\.ts$/,
  /^scripts\/lib\/create-app-files\.ts$/,
];

const keep = (relative: string) => !LEFT_OUT.some((pattern) => pattern.test(relative));

mkdirSync(dir, { recursive: true });
cpSync(root, dir, {
  recursive: true,
  filter: (source) => {
    const relative = path.relative(root, source).split(path.sep).join('/');
    return relative === '' || keep(relative);
  },
});

for (const [file, text] of Object.entries(appFiles)) {
  const out = path.join(dir, file);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, text);
}

// package.json: the new app's name; the kit's own test tiers and scripts go.
const pkgPath = path.join(dir, 'package.json');
const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { name: string; scripts: Record<string, string> };
pkg.name = path.basename(dir).toLowerCase().replace(/[^a-z0-9-]+/g, '-');
delete pkg.scripts['create-app'];
delete pkg.scripts['test:create-app'];
delete pkg.scripts.bench;
pkg.scripts.test = 'npm run typecheck && npm run lint && npm run test:vitest && npm run test:e2e';
pkg.scripts['test:vitest'] = 'vitest run --passWithNoTests';
pkg.scripts['user:add'] = 'tsx scripts/add-user.ts';
writeFileSync(pkgPath, `${JSON.stringify(pkg, null, 2)}\n`);

if (linkDeps) {
  // Hard links: quick, no network, and a real directory (Turbopack will not resolve packages
  // through a node_modules symlink that leaves the project). A copy where links cannot be made.
  try {
    execFileSync('cp', ['-al', path.join(root, 'node_modules'), path.join(dir, 'node_modules')]);
  } catch {
    cpSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), { recursive: true });
  }
}

if (existsSync(path.join(dir, 'node_modules'))) {
  const run = (command: string, commandArgs: string[]) => execFileSync(command, commandArgs, { cwd: dir, stdio: 'inherit' });
  run(path.join(dir, 'node_modules/.bin/drizzle-kit'), ['generate', '--name', 'init']);
  run(process.execPath, ['--import', 'tsx', 'scripts/sync-generate.ts']);
  console.log(`\ncreate-app: ${dir} is ready.\n  cd ${path.relative(process.cwd(), dir) || '.'}\n  npm run dev            # Postgres, replicator and Next on http://localhost:3000\n  npm run user:add -- you@example.com your-password\n  npm test               # typecheck, lint, the smoke test`);
} else {
  rmSync(path.join(dir, 'drizzle'), { recursive: true, force: true });
  console.log(`\ncreate-app: ${dir} is copied. Next:\n  cd ${path.relative(process.cwd(), dir) || '.'}\n  npm install\n  npx drizzle-kit generate --name init && npm run sync:generate\n  npm run dev`);
}
