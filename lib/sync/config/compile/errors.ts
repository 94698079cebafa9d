import { ConfigError } from '@/lib/sync/errors';

/**
 * Stable codes of the errors the sync-rules compiler throws (all `ConfigError`, category 'config').
 * Check `error.code`, not the message. Each is described in docs/sync-rules.md#errors.
 */
export const SyncRulesErrorCode = {
  /** Not a defineSyncRules() value, no buckets, a bad bucket name or priority, a bucket without data. */
  invalid: 'SYNC_RULES_INVALID',
  /** A data query that cannot be decided from the row alone (a parameter left unfiltered, a token claim). */
  notPerRow: 'SYNC_RULES_NOT_PER_ROW',
  /** A parameter the bucket does not define, or one that not every parameter query yields. */
  undefinedParameter: 'SYNC_RULES_UNDEFINED_PARAMETER',
  /** A table without a primary key: its rows have no stable id. */
  noPrimaryKey: 'SYNC_RULES_NO_PRIMARY_KEY',
  /** A column whose Postgres type has no wire mapping. */
  unsupportedType: 'SYNC_RULES_UNSUPPORTED_TYPE',
  /** A column used in a query on another table. */
  wrongTable: 'SYNC_RULES_WRONG_TABLE',
  /** A column compared with a parameter, claim or constant of another type. */
  typeMismatch: 'SYNC_RULES_TYPE_MISMATCH',
  /** Two queries that write one client table with different sources or columns, or a clash on `id`. */
  clientTableConflict: 'SYNC_RULES_CLIENT_TABLE_CONFLICT',
} as const;

export type SyncRulesErrorCode = (typeof SyncRulesErrorCode)[keyof typeof SyncRulesErrorCode];

/** Where in the rules a problem is: the file, and optionally the bucket and the rule within it. */
export interface RuleLocation {
  source: string;
  bucket?: string;
  /** e.g. `data query #2 (todos)` or `parameter query #1 (lookup on list_members)`. */
  rule?: string;
}

/** A ConfigError whose message reads `<file>: bucket "<b>", <rule>: <problem> Fix: <fix>`. */
export function ruleError(code: SyncRulesErrorCode, at: RuleLocation, problem: string, fix: string): ConfigError {
  const where = [at.source, at.bucket === undefined ? undefined : `bucket "${at.bucket}"`, at.rule].filter((p) => p !== undefined);
  return new ConfigError(code, `${where.join(', ')}: ${problem} Fix: ${fix}`, {
    details: { source: at.source, bucket: at.bucket, rule: at.rule },
  });
}
