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
  /**
   * JSON text of [[table, row id, op id, data], …]: rows whose last op in the page is a PUT, each
   * row's data spliced in as the JSON object it is (not as a string holding it), so SQLite parses
   * it once, with the page, and stores it as JSONB without a second parse (storage/oplog.ts).
   */
  puts: string;
  /**
   * The same rows with each data that is not valid JSON put in as a string instead; for a page whose
   * `puts` SQLite refused as malformed. `invalid` counts the rows it changed.
   */
  repairedPuts(): { puts: string; invalid: number };
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
  /** PUTs whose data was not JSON (set by storePage; stored as a JSON string). */
  invalidData: number;
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
  const putRows: Array<Extract<Last, { op: 'PUT' }>> = [];
  const putKeys: string[] = [];
  const removes: unknown[] = [];
  const tables = new Set<string>();
  for (const last of latest.values()) {
    tables.add(last.table);
    if (last.op === 'PUT') {
      putRows.push(last);
      putKeys.push(JSON.stringify([last.table, last.rowId, last.opId]));
    } else removes.push([last.table, last.rowId]);
  }
  return {
    bucket: line.bucket,
    after: Number(line.after),
    nextAfter: Number(line.next_after),
    cleared,
    checksum,
    // Not checked here (that would parse every row a second time): SQLite parses the page, and a
    // page it refuses is stored again from repairedPuts. Data is the server's own JSON of a row, so
    // splicing it in gives it no power it does not have: a server can send any op it likes.
    puts: splicePuts(putRows, putKeys, (data) => data),
    repairedPuts() {
      let invalid = 0;
      const puts = splicePuts(putRows, putKeys, (data) => {
        if (isJson(data)) return data;
        invalid++;
        return JSON.stringify(data);
      });
      return { puts, invalid };
    },
    putKeys: `[${putKeys.join(',')}]`,
    putCount: putRows.length,
    removes: JSON.stringify(removes),
    removeCount: removes.length,
    opCount: line.ops.length,
    tables,
    corrupt,
    invalidData: 0,
  };
}

/** `[[table, row id, op id, data], …]` as JSON text: each row's key entry (`[table, row id, op id]`) with `dataJson(data)` added. */
function splicePuts(rows: ReadonlyArray<{ data: string }>, keys: readonly string[], dataJson: (data: string) => string): string {
  const parts: string[] = [];
  for (let i = 0; i < rows.length; i++) parts.push(`${keys[i]!.slice(0, -1)},${dataJson(rows[i]!.data)}]`);
  return `[${parts.join(',')}]`;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
