import { addChecksums, type DataLine } from '@/lib/sync/protocol';
import { fastOpChecksum } from './checksum';

/**
 * A data line reduced to what storage writes: the last op of each row (earlier ops of the same
 * row in the page are superseded), whether the page holds a CLEAR, and the page's checksum
 * recomputed from the ops' contents (never trusted from the wire for PUT and REMOVE: that is what
 * makes a corrupted op fail the bucket's checksum instead of being kept).
 */
export interface PreparedPage {
  bucket: string;
  /** Position the page continues from, and the position after it. */
  after: number;
  nextAfter: number;
  /** The page holds a CLEAR: the bucket's earlier rows go, and `checksum` replaces its total. */
  cleared: boolean;
  /** Sum of the checksums of the page's ops after its last CLEAR (the CLEAR's own included). */
  checksum: number;
  /** JSON text of [[table, row id, op id, data], …]: rows whose last op in the page is a PUT. */
  puts: string;
  /** The same rows without their data, [[table, row id, op id], …] (for oplog entries of bulk tables). */
  putKeys: string;
  putCount: number;
  /** JSON text of [[table, row id], …]: rows whose last op in the page is a REMOVE. */
  removes: string;
  removeCount: number;
  opCount: number;
  /** The tables of the rows in `puts` and `removes`. */
  tables: Set<string>;
  /** Ops whose wire checksum does not match their content. */
  corrupt: number;
}

type Last = { op: 'PUT'; table: string; rowId: string; opId: string; data: string } | { op: 'REMOVE'; table: string; rowId: string };

export function preparePage(line: DataLine): PreparedPage {
  const latest = new Map<string, Last>();
  let cleared = false;
  let checksum = 0;
  let corrupt = 0;
  for (const op of line.ops) {
    switch (op.op) {
      case 'PUT':
      case 'REMOVE': {
        const table = op.table ?? '';
        const rowId = op.row_id ?? '';
        const data = op.op === 'PUT' ? (op.data ?? '') : null;
        const local = fastOpChecksum(op.op, table, rowId, data);
        if (local !== op.checksum || op.table === null || op.row_id === null) corrupt++;
        checksum = addChecksums(checksum, local);
        const key = `${table}\u0000${rowId}`;
        latest.set(key, op.op === 'PUT' ? { op: 'PUT', table, rowId, opId: op.op_id, data: data! } : { op: 'REMOVE', table, rowId });
        break;
      }
      case 'MOVE':
        checksum = addChecksums(checksum, op.checksum);
        break;
      case 'CLEAR':
        cleared = true;
        latest.clear();
        checksum = op.checksum;
        break;
    }
  }
  const puts: unknown[] = [];
  const putKeys: unknown[] = [];
  const removes: unknown[] = [];
  const tables = new Set<string>();
  for (const last of latest.values()) {
    tables.add(last.table);
    if (last.op === 'PUT') {
      puts.push([last.table, last.rowId, last.opId, last.data]);
      putKeys.push([last.table, last.rowId, last.opId]);
    }
    else removes.push([last.table, last.rowId]);
  }
  return {
    bucket: line.bucket,
    after: Number(line.after),
    nextAfter: Number(line.next_after),
    cleared,
    checksum,
    puts: JSON.stringify(puts),
    putKeys: JSON.stringify(putKeys),
    putCount: puts.length,
    removes: JSON.stringify(removes),
    removeCount: removes.length,
    opCount: line.ops.length,
    tables,
    corrupt,
  };
}
