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
   * JSON text of [[table, row id, op id, data], …]: rows whose last op in the page is a PUT, the
   * op id as a number and each row's data spliced in as the JSON object it is (not as a string
   * holding it), so SQLite parses it once, with the page, and stores it as JSONB without a second
   * parse (storage/oplog.ts).
   */
  puts: string;
  /**
   * The same rows with each data that is not valid JSON put in as a string instead; for a page whose
   * `puts` SQLite refused as malformed. `invalid` counts the rows it changed.
   */
  repairedPuts(): { puts: string; invalid: number };
  /** The same rows without their data, [[table, row id], …] (for ls_touched), made on demand. */
  putKeys(): string;
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

type Put = { table: string; rowId: string; opId: string; data: string };
type Last = Put | { table: string; rowId: string; opId: null; data: null };

export function preparePage(line: DataLine): PreparedPage {
  // The last op of each row, by table then row id (a page nearly always holds one table).
  const latest = new Map<string, Map<string, Last>>();
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
        let rows = latest.get(table);
        if (!rows) latest.set(table, (rows = new Map()));
        // A row's earlier op in the page is superseded.
        rows.set(rowId, data === null ? { table, rowId, opId: null, data: null } : { table, rowId, opId: op.op_id, data });
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
  const putRows: Put[] = [];
  const removes: unknown[] = [];
  const tables = new Set<string>();
  for (const [table, rows] of latest) {
    if (rows.size > 0) tables.add(table);
    for (const last of rows.values()) {
      if (last.opId !== null) putRows.push(last);
      else removes.push([last.table, last.rowId]);
    }
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
    puts: splicePuts(putRows, (data) => data),
    repairedPuts() {
      let invalid = 0;
      const puts = splicePuts(putRows, (data) => {
        if (isJson(data)) return data;
        invalid++;
        return JSON.stringify(data);
      });
      return { puts, invalid };
    },
    putKeys: () => JSON.stringify(putRows.map((r) => [r.table, r.rowId])),
    putCount: putRows.length,
    removes: JSON.stringify(removes),
    removeCount: removes.length,
    opCount: line.ops.length,
    tables,
    corrupt,
    invalidData: 0,
  };
}

/**
 * `[[table, row id, op id, data], …]` as JSON text, with `dataJson(data)` spliced in as it is. Op
 * ids are canonical digit strings (OP_ID_PATTERN, checked by sync/lines.ts), so valid JSON numbers.
 */
function splicePuts(rows: readonly Put[], dataJson: (data: string) => string): string {
  // One join makes the text flat at once: appending with += would make a tree of a few string
  // pieces per row, which the batch keeps alive (and the GC copies) until it is stored.
  const parts: string[] = ['['];
  let table: string | undefined;
  let tableJson = '';
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    if (row.table !== table) {
      table = row.table;
      tableJson = JSON.stringify(table);
    }
    parts.push(i === 0 ? '[' : ',[', tableJson, ',', JSON.stringify(row.rowId), ',', row.opId, ',', dataJson(row.data), ']');
  }
  parts.push(']');
  return parts.join('');
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
