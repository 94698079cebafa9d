import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CopyTextRows } from './copy-text';
import type { SourceRow } from './changes';

/** A value as COPY TO writes it in text format. */
function escape(value: string | null): string {
  if (value === null) return '\\N';
  return value.replace(/[\\\b\f\n\r\t\v]/g, (c) => ({ '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v' })[c]!);
}

const encode = (rows: Array<Array<string | null>>) => Buffer.from(rows.map((r) => `${r.map(escape).join('\t')}\n`).join(''), 'utf8');

/** Every row of a COPY output that arrived in `chunks` (snapshot-reader joins them). */
function parse(columns: string[], chunks: Buffer[]): SourceRow[] {
  const rows = new CopyTextRows(Buffer.concat(chunks), columns);
  return Array.from({ length: rows.count }, (_, i) => rows.row(i));
}

/** Characters COPY escapes, more often than arbitrary code points would give them. */
const text = fc.oneof(fc.constantFrom('\\', '\t', '\n', '\r', '\b', '\f', '\v', 'N', 'x', '7'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }));

describe('CopyTextRows', () => {
  it('reads values, NULLs, escapes and multi-byte text into rows in column order', () => {
    const rows = [
      ['1', 'plain', null, 't'],
      ['2', 'tab\there, newline\nthere, back\\slash, \\N literal', '', 'f'],
      ['3', 'héllo wörld ✓ 🎉', '\r\b\f\v', 'x'],
    ];
    const parsed = parse(['id', 'text', 'maybe', 'flag'], [encode(rows)]);
    expect(parsed).toEqual(rows.map(([id, text, maybe, flag]) => ({ id, text, maybe, flag })));
    expect(Object.keys(parsed[0]!)).toEqual(['id', 'text', 'maybe', 'flag']);
  });

  it('decodes octal and hex escapes as COPY FROM does', () => {
    expect(parse(['a', 'b'], [Buffer.from('\\101\\x42\\x4\\7z\tq\\x\n')])).toEqual([{ a: 'AB\u0004\u0007z', b: 'qx' }]);
  });

  it('gives the same rows however the output arrived in pieces', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.option(fc.string({ unit: text, maxLength: 12 })), fc.option(fc.string({ unit: 'binary', maxLength: 5 }))), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (rows, cuts) => {
          const bytes = encode(rows);
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
          const chunks: Buffer[] = [];
          let at = 0;
          for (const p of [...points, bytes.length]) {
            chunks.push(bytes.subarray(at, p));
            at = p;
          }
          expect(parse(['a', 'b'], chunks)).toEqual(rows.map(([a, b]) => ({ a, b })));
        },
      ),
    );
  });

  it('refuses rows with a wrong number of values and output that ends inside a row', () => {
    expect(() => parse(['a', 'b'], [Buffer.from('1\n')])).toThrow(/fewer than 2 values/);
    expect(() => parse(['a', 'b'], [Buffer.from('1\t2\t3\n')])).toThrow(/more than 2 values/);
    expect(() => parse(['a', 'b'], [Buffer.from('1\t2\n3\t')])).toThrow(/ended inside a row/);
    expect(() => parse(['a'], [Buffer.from('1\\\n')])).toThrow(/lone backslash/);
  });
});

describe('CopyTextRows, rows parsed when asked for', () => {
  const rowsOf = (columns: string[], bytes: Buffer) => new CopyTextRows(bytes, columns);

  it('gives each row by its index, alone, without parsing the ones before it', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.option(fc.string({ unit: text, maxLength: 12 })), fc.option(fc.string({ unit: 'binary', maxLength: 5 }))), { maxLength: 8 }), fc.nat(), (rows, pick) => {
        const lazy = rowsOf(['a', 'b'], encode(rows));
        expect(lazy.count).toBe(rows.length);
        // Any row alone, e.g. the last (the chunk's resume key), then all of them in order.
        if (rows.length > 0) {
          const i = pick % rows.length;
          expect(lazy.row(i)).toEqual({ a: rows[i]![0], b: rows[i]![1] });
        }
        expect(Array.from({ length: lazy.count }, (_, i) => lazy.row(i))).toEqual(rows.map(([a, b]) => ({ a, b })));
      }),
    );
  });

  it('refuses output that ends inside a row, and indexes past the end', () => {
    expect(rowsOf(['a'], Buffer.alloc(0)).count).toBe(0);
    expect(() => rowsOf(['a', 'b'], Buffer.from('1\t2\n3\t'))).toThrow(/ended inside a row/);
    expect(() => rowsOf(['a', 'b'], Buffer.from('1\t2\n')).row(1)).toThrow(RangeError);
    expect(() => rowsOf(['a', 'b'], Buffer.from('1\n')).row(0)).toThrow(/fewer than 2 values/);
  });
});
