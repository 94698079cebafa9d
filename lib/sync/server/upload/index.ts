/**
 * Uploads: the server half of the client's upload queue. An app's upload server action calls an
 * uploader made by createUploader with per-table handlers (tableHandler). docs/writes.md.
 */
export { createUploader, type UploadFn, type UploaderOptions } from './uploader';
export { tableHandler, type OpContext, type TableHandlerOptions, type TableUploadHandler, type Uploader, type UploadTx } from './table-handler';
export { forbidden, isUploadRejection, UploadRejection } from './rejection';
export { UPLOAD_RECORD_RETENTION_DAYS } from './idempotency';
