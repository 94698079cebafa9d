import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['node_modules/', '.next/', '.data/', 'public/', 'next-env.d.ts', 'test-results/', 'playwright-report/'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Server code must never import browser code.
    files: ['lib/sync/server/**', 'lib/sync/storage/**', 'lib/sync/replicator/**', 'lib/db/**', 'workers/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/lib/sync/client/**', '@/lib/sync/client/**', '@/lib/sync/react/**'], message: 'Server code must not import client code; share through lib/sync/protocol.' },
          ],
        },
      ],
    },
  },
  {
    // Browser code must never import server code.
    files: ['lib/sync/client/**', 'lib/sync/react/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/lib/sync/server/**', '**/lib/sync/storage/**', '**/lib/sync/replicator/**', '@/lib/sync/server/**', '@/lib/sync/storage/**', '@/lib/sync/replicator/**', '@/lib/db/client*'], message: 'Client code must not import server code; share through lib/sync/protocol.' },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // bench/next-floor: a bare Next app in plain JavaScript, outside the TypeScript project.
    files: ['bench/next-floor/**/*.js', 'bench/next-floor/**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { process: 'readonly', crypto: 'readonly', TextEncoder: 'readonly', ReadableStream: 'readonly', Response: 'readonly', URL: 'readonly', setImmediate: 'readonly' },
    },
  },
);
