import type { BucketChecksum, CheckpointDiffLine, CheckpointLine, ErrorDetail, SyncLine, WireOp } from '@/lib/sync/protocol';
import type { OpsPage } from '@/lib/sync/storage';

/** NDJSON encoding of the stream's lines: one JSON object and a "\n" each. */

/** Any line, encoded. */
export function encodeLine(line: SyncLine): string {
  return `${JSON.stringify(line)}\n`;
}

/** A `data` line for a page of ops read after position `after`. */
export function encodeDataLine(bucket: string, after: number, page: OpsPage): string {
  const ops = new Array<WireOp>(page.ops.length);
  for (let i = 0; i < ops.length; i++) {
    const op = page.ops[i]!;
    ops[i] = { op_id: op.opId, op: op.op, table: op.table, row_id: op.rowId, data: op.data, checksum: op.checksum };
  }
  const last = page.ops[page.ops.length - 1];
  return encodeLine({ type: 'data', bucket, after: String(after), next_after: last ? last.opId : String(after), has_more: page.hasMore, ops });
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
