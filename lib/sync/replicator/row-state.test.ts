import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rowHash, toastableValues } from './row-state';

const TEXT = 25;
const VARCHAR = 1043;
const UUID = 2950;
const TIMESTAMPTZ = 1184;
const INT8_ARRAY = 1016;
const JSONB = 3802;

describe('toastableValues', () => {
  it('keeps what Postgres may store out of line: text over 20 UTF-8 bytes, and any other variable-length value', () => {
    const types = new Map([['id', UUID], ['at', TIMESTAMPTZ], ['short', TEXT], ['edge', TEXT], ['long', VARCHAR], ['accents', TEXT], ['wide', TEXT], ['ints', INT8_ARRAY], ['doc', JSONB], ['none', TEXT]]);
    const row = {
      id: '8c1f2c8e-8b0e-4f7a-9d51-3f3c0c7a1b2e', // fixed length: never TOASTed
      at: '2026-11-22 02:56:17.123456+00',
      short: 'todo 123',
      edge: 'x'.repeat(20), // 20 bytes + a 4-byte header: not more than a TOAST pointer
      long: 'x'.repeat(21),
      accents: 'é'.repeat(10), // 20 bytes
      wide: '✓'.repeat(7), // 21 bytes
      ints: '{1}', // 8 bytes a value plus an array header when stored
      doc: '{}',
      none: null,
      unknown: 'of a column whose type was never seen',
    };
    expect(toastableValues(row, types)).toEqual({ long: row.long, wide: row.wide, ints: '{1}', doc: '{}', unknown: row.unknown });
  });

  it('keeps every non-null value when the column types are unknown', () => {
    expect(toastableValues({ a: '1', b: null, c: 'x' }, undefined)).toEqual({ a: '1', c: 'x' });
  });
});

describe('rowHash', () => {
  it('is equal for equal rows and differs for any other row', () => {
    const row = fc.dictionary(fc.constantFrom('a', 'b', 'ab', 'c'), fc.option(fc.constantFrom('', 'n', 'v', 'x', 'bc', 'n\u0001')), { maxKeys: 4 });
    fc.assert(
      fc.property(row, row, (x, y) => {
        const same = JSON.stringify(Object.entries(x)) === JSON.stringify(Object.entries(y));
        expect(rowHash(x) === rowHash(y)).toBe(same);
      }),
      { numRuns: 3000 },
    );
  });

  it('tells null from empty and from text, and does not let values slide between columns', () => {
    expect(rowHash({ a: null })).not.toBe(rowHash({ a: '' }));
    expect(rowHash({ a: null })).not.toBe(rowHash({ a: 'n' }));
    expect(rowHash({ a: 'x', b: '' })).not.toBe(rowHash({ a: '', b: 'x' }));
    expect(rowHash({ ab: 'c' })).not.toBe(rowHash({ a: 'bc' }));
    expect(rowHash({ a: '1' })).toMatch(/^[A-Za-z0-9+/]{22}$/);
  });
});
