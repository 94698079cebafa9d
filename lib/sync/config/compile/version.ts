import { createHash } from 'node:crypto';
import type { BucketIR, ConstantCheck } from './ir';
import type { ColumnInfo } from './tables';

/**
 * Bump when the wire format of a type changes: every stored bucket must then be rebuilt, which a
 * changed version hash tells the replicator to do.
 */
const WIRE_FORMAT = 1;

const column = (c: ColumnInfo) => [c.name, c.type.pgType];
const constants = (list: ConstantCheck[]) => list.map((c) => [c.column.name, [...c.keys]]);

/** A JSON-able description of everything that decides bucket contents and wire data. */
export function describeBuckets(buckets: BucketIR[]): unknown {
  return {
    wireFormat: WIRE_FORMAT,
    buckets: buckets.map((b) => ({
      name: b.name,
      priority: b.priority,
      parameters: b.parameters.map((p) => [p.name, p.kind]),
      parameterQueries: b.parameterQueries.map((q) =>
        q.kind === 'token'
          ? { token: q.outputs.map((o) => [o.claim, o.type, o.many, o.codec.wire]) }
          : {
              lookup: q.table.qualified,
              inputs: q.inputs.map((i) => [i.column.name, i.claim, i.type, i.many]),
              constants: constants(q.constants),
              outputs: q.outputs.map((o) => o.column.name),
            },
      ),
      dataQueries: b.dataQueries.map((q) => ({
        table: q.table.qualified,
        primaryKey: q.table.primaryKey.map(column),
        clientTable: q.clientTable,
        columns: q.columns.map(column),
        bindings: q.bindings.map((x) => [x.param, x.column.name]),
        constants: constants(q.constants),
      })),
    })),
  };
}

/** The rules version: a short SHA-256 of the description, equal for equal rules. */
export function versionOf(buckets: BucketIR[]): string {
  return createHash('sha256').update(JSON.stringify(describeBuckets(buckets))).digest('hex').slice(0, 16);
}
