/** `npm run db:seed`: seeds the demo data into an empty app database (DATABASE_URL, else the embedded one). */
import { prepareDatabases } from '@/lib/db/prepare';

const { cluster } = await prepareDatabases({ seed: true });
await cluster?.stop();
