/**
 * Lockstep's error hierarchy. Every error has a stable `code` and a `name`; check those rather
 * than `instanceof`, because errors cross worker boundaries and duplicate package copies.
 */
export type LockstepErrorCategory = 'setup' | 'config' | 'replication' | 'protocol' | 'auth' | 'upload';

export interface LockstepErrorOptions {
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class LockstepError extends Error {
  readonly code: string;
  readonly category: LockstepErrorCategory;
  readonly details: Record<string, unknown> | undefined;

  constructor(category: LockstepErrorCategory, code: string, message: string, options: LockstepErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LockstepError';
    this.category = category;
    this.code = code;
    this.details = options.details;
  }
}

/** The development or test environment cannot be brought up (Postgres, databases, migrations). */
export class SetupError extends LockstepError {
  constructor(code: string, message: string, options?: LockstepErrorOptions) {
    super('setup', code, message, options);
    this.name = 'SetupError';
  }
}

/**
 * The sync rules (sync.config.ts) cannot be compiled. Raised at startup and by
 * `npm run sync:generate`; the message names the file, the bucket and the rule, and says how to fix it.
 * Codes are listed in docs/sync-rules.md#errors.
 */
export class ConfigError extends LockstepError {
  constructor(code: string, message: string, options?: LockstepErrorOptions) {
    super('config', code, message, options);
    this.name = 'ConfigError';
  }
}

/** True when `error` is a Lockstep error with this code, wherever it was constructed. */
export function isLockstepError(error: unknown, code?: string): error is LockstepError {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { code?: unknown; category?: unknown };
  return typeof e.code === 'string' && typeof e.category === 'string' && (code === undefined || e.code === code);
}

/**
 * Bucket storage (lib/sync/storage) refused or failed an operation: a missing or retired rules
 * version, an invalid batch, an LSN going backwards, a changed migration. Codes are listed in
 * lib/sync/storage/errors.ts.
 */
export class StorageError extends LockstepError {
  constructor(code: string, message: string, options?: LockstepErrorOptions) {
    super('replication', code, message, options);
    this.name = 'StorageError';
  }
}
