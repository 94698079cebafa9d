import type { BucketChecksum, CheckpointDiffLine, CheckpointLine, ErrorDetail, SyncLine } from '@/lib/sync/protocol';
import type { OpsPage } from '@/lib/sync/storage';

/** NDJSON encoding of the stream's lines: one JSON object and a "\n" each. */

/** Any line, encoded. */
export function encodeLine(line: SyncLine): string {
  return `${JSON.stringify(line)}\n`;
}

/** A JSON string value, or null. */
function jsonText(value: string | null): string {
  return value === null ? 'null' : JSON.stringify(value);
}

/**
 * The `data` line for a page of ops read after position `after`, as UTF-8 bytes. Each op is one
 * short string (its data's JSON text escaped once, never parsed) written straight into a buffer
 * of the line's exact size: no rope of a page's strings to flatten, no second encoding of the
 * whole line. Every stream sending the page writes these same bytes.
 */
export function encodeDataLine(bucket: string, after: number, page: OpsPage): Buffer {
  const { ops, hasMore } = page;
  const next = ops.length > 0 ? ops[ops.length - 1]![0] : String(after);
  const head = `{"type":"data","bucket":${JSON.stringify(bucket)},"after":"${after}","next_after":"${next}","has_more":${hasMore},"ops":[`;
  const parts = new Array<string>(ops.length);
  let size = Buffer.byteLength(head) + 3;
  for (let i = 0; i < ops.length; i++) {
    const [opId, op, table, rowId, data, checksum] = ops[i]!;
    const part = `${i === 0 ? '' : ','}{"op_id":"${opId}","op":"${op}","table":${jsonText(table)},"row_id":${jsonText(rowId)},"data":${jsonText(data)},"checksum":${checksum}}`;
    parts[i] = part;
    size += Buffer.byteLength(part);
  }
  const bytes = Buffer.allocUnsafe(size);
  let offset = bytes.write(head, 0);
  for (const part of parts) offset += bytes.write(part, offset);
  offset += bytes.write(']}\n', offset, 'latin1');
  if (offset !== size) throw new Error(`data line encoded to ${offset} bytes, ${size} expected`);
  return bytes;
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
