import path from 'node:path';
import { defineConfig } from 'vitest/config';

const alias = { '@': path.resolve(import.meta.dirname) };

/**
 * Two tiers share one run: `unit` needs no server; `integration` gets a real Postgres from
 * test/global-setup.ts (embedded, or DATABASE_URL) and each file makes its own database with
 * test/db.ts. Type tests (*.test-d.ts) run with the unit tier.
 */
export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'unit',
          include: ['lib/**/*.test.ts', 'scripts/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', 'node_modules/**'],
          environment: 'node',
          // Property tests run thousands of cases: seconds alone, more on a busy 2-core machine.
          testTimeout: 30_000,
          typecheck: { enabled: true, include: ['**/*.test-d.ts'], exclude: ['node_modules/**', '.next/**', '.data/**'], tsconfig: './tsconfig.json' },
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'integration',
          include: ['**/*.int.test.ts'],
          exclude: ['node_modules/**', '.next/**', '.data/**'],
          environment: 'node',
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
