import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BinaryCopyWriter } from './copy-binary';
import { BinaryCopyReader, COPY_FORMAT_ERROR, type CopyRow } from './copy-out';

type Value = string | null;

/** Rows as COPY's binary format, from the writer the replicator uses to load ops. */
function encode(rows: Value[][], fields: number): Buffer {
  const writer = new BinaryCopyWriter();
  for (const row of rows) {
    writer.row(fields);
    for (const value of row) writer.textOrNull(value);
  }
  return Buffer.concat(writer.finish());
}

function decode(row: CopyRow, fields: number): Value[] {
  const out: Value[] = [];
  for (let i = 0; i < fields; i++) out.push(row.start[i]! < 0 ? null : row.bytes.toString('utf8', row.start[i], row.end[i]));
  return out;
}

/** Feeds `bytes` to a reader in pieces cut at `cuts`, and returns the rows it saw. */
function read(bytes: Buffer, fields: number, cuts: number[]): Value[][] {
  const rows: Value[][] = [];
  const reader = new BinaryCopyReader(fields, (row) => rows.push(decode(row, fields)));
  let from = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    if (cut <= from || cut >= bytes.length) continue;
    reader.push(bytes.subarray(from, cut));
    from = cut;
  }
  reader.push(bytes.subarray(from));
  reader.finish();
  expect(reader.rows).toBe(rows.length);
  return rows;
}

const value = fc.option(fc.string({ unit: 'grapheme', maxLength: 40 }), { nil: null });

describe('BinaryCopyReader', () => {
  it('reads back every row whatever the cuts between chunks (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }).chain((fields) => fc.tuple(fc.constant(fields), fc.array(fc.array(value, { minLength: fields, maxLength: fields }), { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }))), ([fields, rows, cuts]) => {
        const bytes = encode(rows, fields);
        expect(read(bytes, fields, cuts.map((c) => c % (bytes.length + 1)))).toEqual(rows);
      }),
      { numRuns: 300 },
    );
  });

  it('reads one byte at a time', () => {
    const rows: Value[][] = [['a', null, ''], ['é\n"\\', 'x'.repeat(300), null]];
    const bytes = encode(rows, 3);
    expect(read(bytes, 3, Array.from({ length: bytes.length }, (_, i) => i))).toEqual(rows);
  });

  it('joins a large value cut into many chunks once per field header, not once per chunk', () => {
    const big = 'v'.repeat(1 << 20);
    const bytes = encode([['small', big, null]], 3);
    const chunks = Array.from({ length: Math.ceil(bytes.length / 65536) }, (_, i) => (i + 1) * 65536);
    const seen: Value[][] = [];
    const reader = new BinaryCopyReader(3, (row) => seen.push(decode(row, 3)));
    let from = 0;
    let copied = 0;
    const concat = Buffer.concat;
    Buffer.concat = (list: readonly Uint8Array[], total?: number) => {
      copied += total ?? list.reduce((n, b) => n + b.length, 0);
      return concat(list, total);
    };
    try {
      for (const cut of [...chunks, bytes.length]) {
        reader.push(bytes.subarray(from, Math.min(cut, bytes.length)));
        from = Math.min(cut, bytes.length);
      }
    } finally {
      Buffer.concat = concat;
    }
    reader.finish();
    expect(seen).toEqual([['small', big, null]]);
    expect(copied).toBeLessThan(2 * bytes.length);
  });

  it('rejects what is not binary COPY output with the expected columns', () => {
    const bytes = encode([['a', 'b']], 2);
    const code = (fn: () => void) => {
      try {
        fn();
      } catch (error: unknown) {
        return (error as { code?: string }).code;
      }
      return undefined;
    };
    expect(code(() => new BinaryCopyReader(3, () => {}).push(bytes))).toBe(COPY_FORMAT_ERROR);
    expect(code(() => new BinaryCopyReader(2, () => {}).push(Buffer.from('a,b\n')))).toBeUndefined(); // too short to tell yet
    expect(code(() => new BinaryCopyReader(2, () => {}).push(Buffer.from('not a copy at all, much longer than a header')))).toBe(COPY_FORMAT_ERROR);
    const truncated = new BinaryCopyReader(2, () => {});
    truncated.push(bytes.subarray(0, bytes.length - 3));
    expect(code(() => truncated.finish())).toBe(COPY_FORMAT_ERROR);
    const noTrailer = new BinaryCopyReader(2, () => {});
    noTrailer.push(bytes.subarray(0, bytes.length - 2));
    expect(code(() => noTrailer.finish())).toBe(COPY_FORMAT_ERROR);
    expect(code(() => new BinaryCopyReader(2, () => {}).push(Buffer.concat([bytes, bytes.subarray(19)])))).toBe(COPY_FORMAT_ERROR);
  });
});
