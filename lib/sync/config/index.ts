/**
 * Typed sync rules: the DSL that sync.config.ts is written in, and the compiler that turns it into
 * the publication, the row and parameter evaluators and the client schema. See docs/sync-rules.md.
 */
export { bucket, defineSyncRules } from './dsl/bucket';
export type { Bucket, BucketDefinition, BucketParams, BucketPriority, ParameterQuery, SyncRules } from './dsl/bucket';
export { eq, inArray } from './dsl/filters';
export type { Filter, Operand } from './dsl/filters';
export { fromToken, token } from './dsl/params';
export type { Claim, Param, TokenQuery } from './dsl/params';
export { from, lookup } from './dsl/queries';
export type { DataQuery, LookupQuery } from './dsl/queries';

export { compileSyncRules } from './compile-sync-rules';
export type { ClientSchema, CompiledBucket, CompiledSyncRules, CompileOptions } from './compile-sync-rules';
export { SyncRulesErrorCode } from './compile/errors';
export { STORE_PREFIX } from './compile/client-schema';
export type { ClientColumn, ClientTable } from './compile/client-schema';
export { PUBLICATION_NAME } from './compile/publication';
export type { SourceTable } from './compile/publication';
export type { SqliteType, WireType } from './codecs/codec';
export { RowErrorCode } from './evaluate/source-row';
export type { SourceRow } from './evaluate/source-row';
export type { EvaluatedRow } from './evaluate/row-evaluator';
export type { ParameterEntry } from './evaluate/parameter-evaluator';
export { PARAMETER_ENTRY_INVALID } from './evaluate/token-resolver';
export type { BucketGrant, ParameterLookup } from './evaluate/token-resolver';
export { bucketIdOf, lookupKey } from './evaluate/lookup-key';
// The file-writing generator (npm run sync:generate) is imported from './generate/generate'
// directly: kept out of this index so route handlers do not bundle filesystem code.
