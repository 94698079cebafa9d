import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addChecksums, crc32Utf8, opChecksum, subtractChecksums } from './checksum';

describe('checksums', () => {
  it('matches the published CRC-32 check value', () => {
    expect(crc32Utf8('123456789')).toBe(0xcbf43926);
    expect(crc32Utf8('')).toBe(0);
  });

  it('equals zlib CRC-32 of the UTF-8 bytes for any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(crc32Utf8(s)).toBe(crc32(Buffer.from(s, 'utf8')));
      }),
      { numRuns: 2000 },
    );
  });

  it('is distinct for PUT and REMOVE of the same row', () => {
    expect(opChecksum('PUT', 'todos', 'a', '{}')).not.toBe(opChecksum('REMOVE', 'todos', 'a', null));
  });

  it('adds modulo 2^32, so any split of a bucket sums to the same total', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 50 }), fc.nat(), (sums, at) => {
        const total = sums.reduce(addChecksums, 0);
        const cut = sums.length === 0 ? 0 : at % sums.length;
        const left = sums.slice(0, cut).reduce(addChecksums, 0);
        const right = sums.slice(cut).reduce(addChecksums, 0);
        expect(addChecksums(left, right)).toBe(total);
        expect(subtractChecksums(total, left)).toBe(right);
        expect(total).toBeLessThanOrEqual(0xffffffff);
        expect(total).toBeGreaterThanOrEqual(0);
      }),
    );
  });
});
