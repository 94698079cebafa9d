import * as z from 'zod/mini';
import './zod-messages';
import { HIGHEST_PRIORITY, LOWEST_PRIORITY, OP_ID_PATTERN } from './constants';
import { errorDetailSchema } from './errors';

/**
 * The lines of the sync stream (POST /api/sync/stream answers with NDJSON: one of these objects
 * per line). Every line has a `type`; `SyncLine` is their discriminated union. docs/protocol.md
 * describes each field and the order lines come in.
 */

/** An op id, write checkpoint id or bucket position: an unsigned integer as a decimal string. */
export const opIdSchema = z.string().check(
  z.regex(OP_ID_PATTERN, 'expected an op id: a decimal integer string such as "0" or "1042"'),
  z.refine((s) => Number(s) <= Number.MAX_SAFE_INTEGER, 'op id is larger than 2^53 - 1'),
);

/** A checksum: an unsigned 32-bit integer (docs/protocol.md#checksums). */
export const checksumSchema = z.int().check(z.minimum(0), z.maximum(0xffff_ffff));

export const prioritySchema = z.int().check(z.minimum(HIGHEST_PRIORITY), z.maximum(LOWEST_PRIORITY));

/** A bucket as of a checkpoint. */
export const bucketChecksumSchema = z.object({
  /** The bucket id, e.g. `list["5f0c…"]`: the bucket's name and the JSON array of its parameters. */
  bucket: z.string(),
  /** Sum of the checksums of all the bucket's ops up to the checkpoint, mod 2^32. */
  checksum: checksumSchema,
  /** Number of ops the server holds for the bucket up to the checkpoint (for progress only). */
  count: z.int().check(z.minimum(0)),
  /** 0 (first) to 3 (last). */
  priority: prioritySchema,
});

/**
 * One op of a bucket. PUT upserts the row `row_id` of table `table` with `data`; REMOVE deletes it
 * from this bucket; MOVE changes nothing but carries a checksum; CLEAR empties the bucket and its
 * checksum replaces the bucket's running total (it stands for every op before it).
 */
export const opSchema = z.object({
  op_id: opIdSchema,
  op: z.enum(['PUT', 'REMOVE', 'MOVE', 'CLEAR']),
  /** The client table (null for MOVE and CLEAR). */
  table: z.nullable(z.string()),
  row_id: z.nullable(z.string()),
  /** The row as JSON text, exactly the text its checksum covers (PUT only; null otherwise). */
  data: z.nullable(z.string()),
  checksum: checksumSchema,
});

/** The full state of the user's buckets at a checkpoint; the first checkpoint of every stream. */
export const checkpointLineSchema = z.object({
  type: z.literal('checkpoint'),
  /** Every op of every listed bucket up to this op id is part of the checkpoint. */
  last_op_id: opIdSchema,
  /** Highest write checkpoint of this client that the checkpoint includes; null when none. */
  write_checkpoint: z.nullable(opIdSchema),
  /** Opaque id of the sync rules the op ids belong to; when it changes, positions are void. */
  rules_version: z.string(),
  /** The user's buckets, higher priority first. Local buckets missing here must be deleted. */
  buckets: z.array(bucketChecksumSchema),
});

/** A later checkpoint, as a change of the previous one. */
export const checkpointDiffLineSchema = z.object({
  type: z.literal('checkpoint_diff'),
  last_op_id: opIdSchema,
  write_checkpoint: z.nullable(opIdSchema),
  /** Buckets added or changed since the previous checkpoint, with their new totals. */
  updated_buckets: z.array(bucketChecksumSchema),
  /** Buckets the user no longer has: delete their local data. */
  removed_buckets: z.array(z.string()),
});

/** A page of one bucket's ops, in op id order, following the position `after`. */
export const dataLineSchema = z.object({
  type: z.literal('data'),
  bucket: z.string(),
  /** The position this page continues from. Lower than the client's position: see docs/protocol.md#resuming. */
  after: opIdSchema,
  /** The op id of the last op in this page: the bucket's position once the page is applied. */
  next_after: opIdSchema,
  /** More pages of this bucket follow for the same checkpoint. */
  has_more: z.boolean(),
  ops: z.array(opSchema),
});

/** Every bucket's data up to `last_op_id` has been sent: validate checksums, then apply. */
export const checkpointCompleteLineSchema = z.object({
  type: z.literal('checkpoint_complete'),
  last_op_id: opIdSchema,
});

/** The data of every bucket with priority <= `priority` has been sent up to `last_op_id`. */
export const partialCheckpointCompleteLineSchema = z.object({
  type: z.literal('partial_checkpoint_complete'),
  last_op_id: opIdSchema,
  priority: prioritySchema,
});

/** Sent while idle, so clients and proxies see a live connection. */
export const keepaliveLineSchema = z.object({ type: z.literal('keepalive') });

/** Seconds until the sync token expires; the stream ends right after `seconds: 0`. */
export const tokenExpiresInLineSchema = z.object({
  type: z.literal('token_expires_in'),
  seconds: z.int().check(z.minimum(0)),
});

/** The stream failed after it started; it ends after this line. Reconnect, with backoff. */
export const errorLineSchema = z.object({
  type: z.literal('error'),
  error: errorDetailSchema,
});

export const syncLineSchema = z.discriminatedUnion('type', [
  checkpointLineSchema,
  checkpointDiffLineSchema,
  dataLineSchema,
  checkpointCompleteLineSchema,
  partialCheckpointCompleteLineSchema,
  keepaliveLineSchema,
  tokenExpiresInLineSchema,
  errorLineSchema,
]);

export type BucketChecksum = z.infer<typeof bucketChecksumSchema>;
export type WireOp = z.infer<typeof opSchema>;
export type CheckpointLine = z.infer<typeof checkpointLineSchema>;
export type CheckpointDiffLine = z.infer<typeof checkpointDiffLineSchema>;
export type DataLine = z.infer<typeof dataLineSchema>;
export type CheckpointCompleteLine = z.infer<typeof checkpointCompleteLineSchema>;
export type PartialCheckpointCompleteLine = z.infer<typeof partialCheckpointCompleteLineSchema>;
export type KeepaliveLine = z.infer<typeof keepaliveLineSchema>;
export type TokenExpiresInLine = z.infer<typeof tokenExpiresInLineSchema>;
export type ErrorLine = z.infer<typeof errorLineSchema>;
/** Any line of the stream; switch on `type`. */
export type SyncLine = z.infer<typeof syncLineSchema>;
export type SyncLineType = SyncLine['type'];

/**
 * Parses one line of the stream (without its "\n"); throws a zod error or SyntaxError when it is
 * not a line of this protocol version.
 *
 * @example
 *   const line = parseSyncLine('{"type":"keepalive"}'); // { type: 'keepalive' }
 */
export function parseSyncLine(text: string): SyncLine {
  return syncLineSchema.parse(JSON.parse(text));
}
