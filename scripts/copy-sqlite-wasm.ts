/**
 * Copies sqlite-wasm's browser files into public/sqlite/, where the sync client's worker loads
 * them (Next's bundlers cannot bundle sqlite-wasm, so the worker imports them by URL). Run before
 * `next dev` and `next build` (npm `predev` / `prebuild`); files already up to date are left alone.
 *
 *   tsx scripts/copy-sqlite-wasm.ts [--out public/sqlite]
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const FILES = ['index.mjs', 'sqlite3.wasm', 'sqlite3-opfs-async-proxy.js'];

const outFlag = process.argv.indexOf('--out');
const out = path.resolve(outFlag >= 0 ? process.argv[outFlag + 1]! : 'public/sqlite');
const require = createRequire(import.meta.url);
const dist = path.join(path.dirname(require.resolve('@sqlite.org/sqlite-wasm/package.json')), 'dist');
const { version } = JSON.parse(readFileSync(path.join(dist, '..', 'package.json'), 'utf8')) as { version: string };

const digest = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

mkdirSync(out, { recursive: true });
let copied = 0;
for (const file of FILES) {
  const source = path.join(dist, file);
  if (!existsSync(source)) throw new Error(`@sqlite.org/sqlite-wasm ${version} has no dist/${file}: has the package layout changed?`);
  const bytes = readFileSync(source);
  const target = path.join(out, file);
  if (existsSync(target) && digest(readFileSync(target)) === digest(bytes)) continue;
  writeFileSync(target, bytes);
  copied++;
}
writeFileSync(path.join(out, 'VERSION'), `${version}\n`);
console.log(`[lockstep] sqlite-wasm ${version}: ${copied === 0 ? 'public files up to date' : `copied ${copied} file(s)`} in ${path.relative(process.cwd(), out) || '.'}`);
