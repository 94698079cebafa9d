/** `npm run db:migrate`: creates the databases when missing and applies migrations, without seeding. */
import { prepareDatabases } from '@/lib/db/prepare';

const { cluster } = await prepareDatabases({ seed: false });
await cluster?.stop();
