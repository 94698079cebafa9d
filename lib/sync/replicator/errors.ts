import { LockstepError, type LockstepErrorOptions } from '@/lib/sync/errors';

/** Replication cannot proceed as configured: a source table, the publication, the slot. */
export class ReplicationError extends LockstepError {
  constructor(code: string, message: string, options?: LockstepErrorOptions) {
    super('replication', code, message, options);
    this.name = 'ReplicationError';
  }
}
