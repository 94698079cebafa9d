import type { BucketChecksum, CheckpointDiffLine, CheckpointLine, ErrorDetail, SyncLine } from '@/lib/sync/protocol';
import type { OpsPageText } from '@/lib/sync/storage';

/** NDJSON encoding of the stream's lines: one JSON object and a "\n" each. */

/** Any line, encoded. */
export function encodeLine(line: SyncLine): string {
  return `${JSON.stringify(line)}\n`;
}

/**
 * A `data` line for a page of ops read after position `after`. The ops arrive encoded by bucket
 * storage (readOpsPageText); the rest of the line is built around them without re-parsing.
 */
export function encodeDataLine(bucket: string, after: number, page: OpsPageText): string {
  const next = page.lastOpId ?? String(after);
  return `{"type":"data","bucket":${JSON.stringify(bucket)},"after":"${after}","next_after":"${next}","has_more":${page.hasMore},"ops":[${page.opsJson}]}\n`;
}

export function checkpointLine(lastOpId: number, writeCheckpoint: number | null, rulesVersion: string, buckets: BucketChecksum[]): string {
  const line: CheckpointLine = { type: 'checkpoint', last_op_id: String(lastOpId), write_checkpoint: writeCheckpoint === null ? null : String(writeCheckpoint), rules_version: rulesVersion, buckets };
  return encodeLine(line);
}

export function checkpointDiffLine(lastOpId: number, writeCheckpoint: number | null, updated: BucketChecksum[], removed: string[]): string {
  const line: CheckpointDiffLine = {
    type: 'checkpoint_diff',
    last_op_id: String(lastOpId),
    write_checkpoint: writeCheckpoint === null ? null : String(writeCheckpoint),
    updated_buckets: updated,
    removed_buckets: removed,
  };
  return encodeLine(line);
}

export function checkpointCompleteLine(lastOpId: number): string {
  return encodeLine({ type: 'checkpoint_complete', last_op_id: String(lastOpId) });
}

export function partialCheckpointCompleteLine(lastOpId: number, priority: number): string {
  return encodeLine({ type: 'partial_checkpoint_complete', last_op_id: String(lastOpId), priority });
}

export const KEEPALIVE_LINE = encodeLine({ type: 'keepalive' });

export function tokenExpiresInLine(seconds: number): string {
  return encodeLine({ type: 'token_expires_in', seconds: Math.max(0, Math.floor(seconds)) });
}

export function errorLine(error: ErrorDetail): string {
  return encodeLine({ type: 'error', error });
}
