/**
 * What a page running Lockstep exposes for tests: `<SyncProvider>` sets
 * `window[TESTING_GLOBAL]` so that waitForSync can ask the page, without knowing its internals,
 * how far it is. No imports here: the browser bundle includes this file.
 */
export const TESTING_GLOBAL = '__lockstep';

export interface TestingHandle {
  /** The op id of the last checkpoint applied to the local database, or null before the first. */
  checkpoint(): string | null;
  /** Local transactions not yet confirmed by the server. */
  pendingUploads(): number;
}
