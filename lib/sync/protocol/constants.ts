/**
 * Every path, header, media type and limit of the sync wire protocol (docs/protocol.md). The
 * server and the client both import these; nothing else spells them out.
 */

/** Bumped on any incompatible change of the lines or the request body. Sent as PROTOCOL_HEADER. */
export const PROTOCOL_VERSION = 1;

/** The endpoints, relative to the app's origin. */
export const SyncPath = {
  /** POST: the NDJSON stream of checkpoints and bucket data. Bearer sync token. */
  stream: '/api/sync/stream',
  /** GET: a sync token for the signed-in user (next-auth session cookie). */
  token: '/api/sync/token',
  /** POST: records a write checkpoint for this client. Bearer sync token. */
  writeCheckpoint: '/api/sync/write-checkpoint',
  /** GET: the public keys that verify sync tokens, when they are signed with an asymmetric key. */
  jwks: '/api/sync/jwks',
} as const;

/** Header names (lower case, as fetch and node:http report them). */
export const SyncHeader = {
  /** `Bearer <sync token>` on stream and write-checkpoint requests. */
  authorization: 'authorization',
  contentType: 'content-type',
  /** The server's PROTOCOL_VERSION, on every sync response. */
  protocol: 'lockstep-protocol',
  /** On 401 responses: `Bearer error="invalid_token"` (RFC 6750). */
  wwwAuthenticate: 'www-authenticate',
} as const;

export const MediaType = {
  /** Request bodies and error responses. */
  json: 'application/json',
  /** The stream: one JSON object per line, each line ended by "\n". */
  ndjson: 'application/x-ndjson',
} as const;

/** Limits the server enforces; a request beyond them is refused with the error code named. */
export const SyncLimits = {
  /** Largest request body accepted, in bytes (REQUEST_BODY_TOO_LARGE, HTTP 413). */
  maxRequestBytes: 256 * 1024,
  /** Most bucket positions a stream request may carry. */
  maxBucketPositions: 10_000,
  /** Longest bucket id accepted in a request. */
  maxBucketIdLength: 1_024,
  /** client_id: 1 to this many characters from CLIENT_ID_PATTERN. */
  maxClientIdLength: 128,
} as const;

/** client_id: letters, digits and `-_.:`; a UUID is the usual choice. */
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9_.:-]+$/;

/**
 * Op ids, write checkpoint ids and bucket positions are unsigned 64-bit integers sent as decimal
 * strings, so no client loses precision. `0` means "before the first op".
 */
export const OP_ID_PATTERN = /^(0|[1-9][0-9]{0,18})$/;

/** Bucket priorities run from 0 (synced first) to 3; a bucket without a declared priority has 3. */
export const HIGHEST_PRIORITY = 0;
export const LOWEST_PRIORITY = 3;
