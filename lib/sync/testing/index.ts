/**
 * Playwright helpers for testing a Lockstep app offline and in sync (docs/testing.md):
 * `test` with an `sql` fixture, signIn, goOffline / goOnline, waitForSync.
 */
export { expect, goOffline, goOnline, signIn, test, waitForSync, type LockstepFixtures } from './fixtures';
export { e2eDatabaseUrl, storageUrlOf, testSql, type TestSql } from './database';
export { TESTING_GLOBAL, type TestingHandle } from './contract';
