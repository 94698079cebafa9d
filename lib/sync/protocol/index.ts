/**
 * The sync wire protocol, shared by the server (lib/sync/server) and the browser client
 * (lib/sync/client): constants, line and request schemas, error codes and checksums.
 * docs/protocol.md is the prose version.
 */
export { CLIENT_ID_PATTERN, HIGHEST_PRIORITY, LOWEST_PRIORITY, MediaType, OP_ID_PATTERN, PROTOCOL_VERSION, SyncHeader, SyncLimits, SyncPath } from './constants';
export {
  bucketChecksumSchema,
  checkpointCompleteLineSchema,
  checkpointDiffLineSchema,
  checkpointLineSchema,
  checksumSchema,
  dataLineSchema,
  errorLineSchema,
  keepaliveLineSchema,
  opIdSchema,
  opSchema,
  parseSyncLine,
  partialCheckpointCompleteLineSchema,
  prioritySchema,
  syncLineSchema,
  tokenExpiresInLineSchema,
} from './lines';
export type {
  BucketChecksum,
  CheckpointCompleteLine,
  CheckpointDiffLine,
  CheckpointLine,
  DataLine,
  ErrorLine,
  KeepaliveLine,
  PartialCheckpointCompleteLine,
  SyncLine,
  SyncLineType,
  TokenExpiresInLine,
  WireOp,
} from './lines';
export {
  bucketPositionSchema,
  clientIdSchema,
  jwksSchema,
  streamRequestSchema,
  syncTokenResponseSchema,
  writeCheckpointRequestSchema,
  writeCheckpointResponseSchema,
} from './requests';
export type { BucketPosition, Jwks, StreamRequest, StreamRequestInput, SyncTokenResponse, WriteCheckpointRequest, WriteCheckpointResponse } from './requests';
export { errorBodySchema, errorDetailSchema, isSyncErrorCode, SYNC_ERROR_STATUS, SyncErrorCode, SyncProtocolError, TOKEN_ERROR_CODES } from './errors';
export type { ErrorBody, ErrorDetail } from './errors';
export { addChecksums, crc32Utf8, opChecksum, opChecksumInput, subtractChecksums } from './checksum';
export type { ChecksummedOp } from './checksum';
export { UploadLimits, UploadRejectionCode, uploadOpSchema, uploadRequestSchema, uploadSingleRequestSchema, uploadTransactionSchema } from './upload';
export type { UploadErrorBody, UploadOp, UploadRequest, UploadResult, UploadSingleRequest, UploadTransaction, UploadTransactionResult } from './upload';
