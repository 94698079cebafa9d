import * as z from 'zod/mini';
import './zod-messages';
import { CLIENT_ID_PATTERN, SyncLimits } from './constants';
import { opIdSchema } from './lines';

/** Request and response bodies of the sync endpoints other than the stream's lines. */

export const clientIdSchema = z.string().check(
  z.minLength(1, 'client_id must not be empty'),
  z.maxLength(SyncLimits.maxClientIdLength, `client_id is longer than ${SyncLimits.maxClientIdLength} characters`),
  z.regex(CLIENT_ID_PATTERN, 'client_id may only hold letters, digits and -_.:'),
);

/** Where the client's copy of a bucket stands: the last op id it has applied. */
export const bucketPositionSchema = z.object({
  name: z.string().check(z.minLength(1), z.maxLength(SyncLimits.maxBucketIdLength)),
  /** "0" for a bucket the client has no ops of. */
  after: opIdSchema,
});

/**
 * The body of POST /api/sync/stream. Bucket names are only resume positions: the server decides
 * the user's buckets from the token alone and ignores positions of buckets it does not grant.
 */
export const streamRequestSchema = z.object({
  /** Identifies this client (a browser profile's database); write checkpoints are per client. */
  client_id: clientIdSchema,
  /** The client's position in each bucket it holds. Omit or send [] on a first sync. */
  buckets: z._default(z.array(bucketPositionSchema).check(z.maxLength(SyncLimits.maxBucketPositions, `at most ${SyncLimits.maxBucketPositions} bucket positions`)), []),
  /** The `rules_version` of the checkpoint the positions come from; a different one voids them. */
  rules_version: z.optional(z.string().check(z.maxLength(200))),
});

export type BucketPosition = z.infer<typeof bucketPositionSchema>;
export type StreamRequest = z.infer<typeof streamRequestSchema>;
/** What a client may send (fields with defaults are optional). */
export type StreamRequestInput = z.input<typeof streamRequestSchema>;

/** The body of POST /api/sync/write-checkpoint. */
export const writeCheckpointRequestSchema = z.object({ client_id: clientIdSchema });
export type WriteCheckpointRequest = z.infer<typeof writeCheckpointRequestSchema>;

/** Its answer: the id that a later checkpoint's `write_checkpoint` reaches once the writes are synced. */
export const writeCheckpointResponseSchema = z.object({ write_checkpoint: opIdSchema });
export type WriteCheckpointResponse = z.infer<typeof writeCheckpointResponseSchema>;

/** The answer of GET /api/sync/token. */
export const syncTokenResponseSchema = z.object({
  /** A JWT for `Authorization: Bearer`. */
  token: z.string(),
  /** When it expires, ISO 8601 UTC. Fetch a new one a little before. */
  expires_at: z.string(),
});
export type SyncTokenResponse = z.infer<typeof syncTokenResponseSchema>;

/** GET /api/sync/jwks: a JSON Web Key Set (RFC 7517); empty when tokens are signed with a shared secret. */
export const jwksSchema = z.object({ keys: z.array(z.record(z.string(), z.unknown())) });
export type Jwks = z.infer<typeof jwksSchema>;
