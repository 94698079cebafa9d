import { and, eq, type SQL } from 'drizzle-orm';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import type { PgTable } from 'drizzle-orm/pg-core';
import { UploadRejectionCode, type UploadOp } from '@/lib/sync/protocol';
import { parseRow, parseRowId, tableShape, type TableShape } from './columns';
import { UploadRejection } from './rejection';

/** The transaction every op of one upload runs in (Drizzle over node-postgres). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type UploadTx = NodePgDatabase<any>;

/** Who is uploading: the signed-in user of the session, never a value from the payload. */
export interface Uploader {
  id: string;
}

/** What an authorize hook sees of one op, after validation. */
export interface OpContext {
  user: Uploader;
  tx: UploadTx;
  op: UploadOp['op'];
  table: string;
  /** Primary key values (Drizzle property names). */
  key: Record<string, unknown>;
  /** The row as stored before this op (locked FOR UPDATE), or null when there is none. */
  before: Record<string, unknown> | null;
  /** The validated columns this op writes (Drizzle property names); empty for DELETE. */
  values: Record<string, unknown>;
}

/** Handles the ops on one table. Throw UploadRejection to refuse the whole transaction. */
export interface TableUploadHandler {
  shape: TableShape;
  apply(user: Uploader, tx: UploadTx, op: UploadOp): Promise<void>;
}

export interface TableHandlerOptions {
  /**
   * Called for every op after validation, inside the transaction. Throw `forbidden(...)` (or any
   * UploadRejection) to refuse; return normally to allow. The default allows nothing: an app
   * must say who may write.
   */
  authorize: (ctx: OpContext) => void | Promise<void>;
  /** Replaces the default write (upsert, patch or delete) for full control, e.g. conflict rules. */
  write?: (ctx: OpContext) => Promise<void>;
}

/**
 * The default handler of a table: PUT upserts the row, PATCH updates only the columns sent
 * (last write wins per column), DELETE deletes; each after validation against the Drizzle table
 * and the app's `authorize` hook. PATCH and DELETE of a row that no longer exists do nothing.
 *
 * @example
 *   tableHandler(todos, { authorize: ({ user, before, values }) => assertListMember(user, values.listId ?? before?.listId) })
 */
export function tableHandler(table: PgTable, options: TableHandlerOptions): TableUploadHandler {
  const shape = tableShape(table);
  return {
    shape,
    async apply(user, tx, op) {
      const key = parseRowId(shape, op.id);
      const values = op.op === 'DELETE' ? {} : parseRow(shape, op.data, op.op === 'PUT' ? 'put' : 'patch');
      // The key comes from the op's id; a body that disagrees with it would write another row.
      for (const [property, value] of Object.entries(key)) {
        if (property in values && String(values[property]) !== String(value)) {
          throw new UploadRejection(UploadRejectionCode.invalidRow, `The ${shape.name} row ${op.id} carries a different primary key in its data.`, { table: shape.name, id: op.id });
        }
      }
      const where = keyCondition(shape, key);
      const [before] = await tx.select().from(table).where(where).for('update');
      const ctx: OpContext = { user, tx, op: op.op, table: shape.name, key, before: (before as Record<string, unknown> | undefined) ?? null, values };
      await options.authorize(ctx);
      if (options.write) return options.write(ctx);
      await defaultWrite(shape, ctx, where);
    },
  };
}

async function defaultWrite(shape: TableShape, ctx: OpContext, where: SQL | undefined): Promise<void> {
  const { tx, table } = { tx: ctx.tx, table: shape.table };
  if (ctx.op === 'DELETE') {
    await tx.delete(table).where(where);
    return;
  }
  if (ctx.op === 'PATCH') {
    if (ctx.before && Object.keys(ctx.values).length > 0) await tx.update(table).set(ctx.values).where(where);
    return;
  }
  const row = { ...ctx.values, ...ctx.key };
  const update = { ...ctx.values };
  for (const property of Object.keys(ctx.key)) delete update[property];
  const insert = tx.insert(table).values(row);
  await (Object.keys(update).length > 0
    ? insert.onConflictDoUpdate({ target: shape.primaryKey.map((k) => k.column), set: update })
    : insert.onConflictDoNothing({ target: shape.primaryKey.map((k) => k.column) }));
}

function keyCondition(shape: TableShape, key: Record<string, unknown>): SQL | undefined {
  return and(...shape.primaryKey.map(({ key: property, column }) => eq(column, key[property])));
}
