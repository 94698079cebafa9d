import type { SerializedError } from './errors';

/**
 * The seam between downloads and the upload queue (the queue itself is built separately).
 *
 * A checkpoint may only be applied when the client has no local writes the server has not
 * acknowledged, or when the checkpoint includes them: its `write_checkpoint` is at or past the
 * write checkpoint the server returned for the last upload. Otherwise applying it would overwrite
 * optimistic local state with a server state that does not contain it yet (DESIGN.md, invariant 2).
 */
export interface UploadQueue {
  /**
   * Whether a complete, verified checkpoint carrying `writeCheckpoint` may be applied now. Called
   * in the database's thread right before the apply transaction.
   */
  canApply(writeCheckpoint: string | null): boolean | Promise<boolean>;
  /** True while uploads are in flight (shown as `uploading` in the sync status). */
  readonly uploading: boolean;
  /**
   * Called when the queue changed (an upload finished, a write checkpoint came back), so a
   * checkpoint that was held back can be applied. Returns an unsubscribe function.
   */
  subscribe(listener: () => void): () => void;
  /** Local transactions not yet confirmed by a checkpoint (shown as `pendingUploads`). */
  readonly pendingCount?: number;
  /** The last upload's error, null once an upload went through (shown as `uploadError`). */
  readonly lastError?: SerializedError | null;
  /** Called after a checkpoint was applied, in the same thread (e.g. to drop acknowledged entries). */
  checkpointApplied?(writeCheckpoint: string | null): void;
}

/** The queue of a client without local writes: always empty. */
export const emptyUploadQueue: UploadQueue = {
  canApply: () => true,
  uploading: false,
  subscribe: () => () => {},
};
