import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

/**
 * The database worker is bundled for the browser, and everything in it is downloaded and compiled
 * before a first sync can start. zod's classic API brings every locale with it (~430 KB minified,
 * which no bundler can shake out); the protocol's schemas use zod/mini (docs/protocol.md).
 */
describe('the database worker bundle', () => {
  it('holds no module of zod’s classic API', async () => {
    const result = await build({
      entryPoints: ['lib/sync/client/worker/database.worker.ts'],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      minify: true,
      metafile: true,
      external: ['/sqlite/*'],
      logLevel: 'error',
    });
    // What made it into the output (a module tree-shaken away is still listed, with 0 bytes).
    const [output] = Object.values(result.metafile.outputs);
    const kept = Object.entries(output!.inputs).filter(([, input]) => input.bytesInOutput > 0).map(([file]) => file);
    expect(kept.some((file) => file.includes('lib/sync/protocol/'))).toBe(true);
    expect(kept.filter((file) => /node_modules\/zod\/v4\/(classic\/|locales\/(?!en\.js))/.test(file))).toEqual([]);
    expect(output!.bytes).toBeLessThan(200_000);
  }, 30_000);
});
