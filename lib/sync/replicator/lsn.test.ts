import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bigIntToLsn, compareLsn, lsnToBigInt } from './lsn';

describe('LSN arithmetic', () => {
  it('orders by the high word first, then the low word', () => {
    expect(compareLsn('0/FFFFFFFF', '1/0')).toBeLessThan(0);
    expect(compareLsn('16/B374D848', '16/B374D848')).toBe(0);
    expect(compareLsn('A/1', '9/FFFFFFFF')).toBeGreaterThan(0);
    // A string comparison would get this wrong.
    expect(compareLsn('0/9', '0/10')).toBeLessThan(0);
  });

  it('round-trips any 64-bit position', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (v) => {
        expect(lsnToBigInt(bigIntToLsn(v))).toBe(v);
      }),
    );
  });
});
