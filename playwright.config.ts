import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { defineConfig, devices } from '@playwright/test';

/**
 * e2e tests run the production build (`npm run build`) through scripts/start.ts, on their own
 * database (lockstep_e2e) in their own local cluster (.data/pg-e2e), or on DATABASE_URL's server.
 * The browser is Chromium from CHROMIUM_PATH or /usr/bin/chromium; where neither exists (a
 * laptop) Playwright's own browser is used (`npx playwright install chromium`).
 */
const port = Number(process.env.E2E_PORT ?? 3100);
const chromium = process.env.CHROMIUM_PATH ?? (existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : undefined);

export default defineConfig({
  testDir: 'e2e',
  fullyParallel: false,
  workers: 1,
  retries: process.env.CI ? 1 : 0,
  reporter: process.env.CI ? [['list']] : [['list'], ['html', { open: 'never' }]],
  timeout: 60_000,
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: 'retain-on-failure',
  },
  projects: [
    {
      name: 'chromium',
      use: {
        ...devices['Desktop Chrome'],
        launchOptions: {
          ...(chromium ? { executablePath: chromium } : {}),
          args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
        },
      },
    },
  ],
  webServer: {
    command: `${JSON.stringify(process.execPath)} --import tsx scripts/start.ts`,
    url: `http://127.0.0.1:${port}/`,
    timeout: 120_000,
    reuseExistingServer: false,
    stdout: 'pipe',
    stderr: 'pipe',
    gracefulShutdown: { signal: 'SIGTERM', timeout: 20_000 },
    env: {
      PORT: String(port),
      HOST: '127.0.0.1',
      LOCKSTEP_PG_DIR: process.env.LOCKSTEP_E2E_PG_DIR ?? '.data/pg-e2e',
      LOCKSTEP_PG_PORT: process.env.LOCKSTEP_E2E_PG_PORT ?? '54339',
      LOCKSTEP_DATABASE_NAME: 'lockstep_e2e',
      LOCKSTEP_RESET_DATABASE: '1',
      NEXT_TELEMETRY_DISABLED: '1',
      // A production build refuses to sign sessions or sync tokens without configured secrets.
      NEXTAUTH_URL: `http://127.0.0.1:${port}`,
      NEXTAUTH_SECRET: process.env.NEXTAUTH_SECRET ?? randomBytes(32).toString('base64url'),
      SYNC_JWT_SECRET: process.env.SYNC_JWT_SECRET ?? randomBytes(32).toString('base64url'),
    },
  },
});
