import { LockstepError } from '@/lib/sync/errors';
import { UploadRejectionCode, type UploadErrorBody } from '@/lib/sync/protocol';

/**
 * Thrown by an upload handler (or the app's authorize hook) to refuse a transaction for good:
 * nothing of it is written, the client drops it and reports it.
 *
 * @example
 *   if (list.archived) throw new UploadRejection('UPLOAD_CONFLICT', 'This list is archived.');
 */
export class UploadRejection extends LockstepError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super('upload', code, message, details ? { details } : {});
    this.name = 'UploadRejection';
  }

  toBody(): UploadErrorBody {
    return { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

/** Refuses an op because the user may not make it. */
export function forbidden(message: string, details?: Record<string, unknown>): UploadRejection {
  return new UploadRejection(UploadRejectionCode.forbidden, message, details);
}

export function isUploadRejection(error: unknown): error is UploadRejection {
  return error instanceof UploadRejection;
}
