import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './lib/db/schema.ts',
  out: './drizzle',
  // Only `generate` is used: migrations are applied by lib/db/migrate.ts, so no URL is needed here.
});
