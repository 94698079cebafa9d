import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { opChecksum } from '@/lib/sync/protocol';
import { fastOpChecksum } from '../storage/checksum';

describe('fastOpChecksum', () => {
  it('equals the protocol’s opChecksum for any strings (surrogates, lone surrogates, all planes)', () => {
    fc.assert(
      fc.property(fc.constantFrom('PUT' as const, 'REMOVE' as const), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.option(fc.string({ unit: 'binary' })), (op, table, rowId, data) => {
        expect(fastOpChecksum(op, table, rowId, data)).toBe(opChecksum(op, table, rowId, data));
      }),
      { numRuns: 5000 },
    );
    // 5,000 runs take ~2 s alone; a loaded machine must not turn that into a timeout.
  }, 60_000);

  it('matches fixed values', () => {
    expect(fastOpChecksum('PUT', 'todos', 'a', '{"x":"é😀\ud800"}')).toBe(opChecksum('PUT', 'todos', 'a', '{"x":"é😀\ud800"}'));
    expect(fastOpChecksum('REMOVE', 't', 'r', null)).toBe(opChecksum('REMOVE', 't', 'r', null));
  });
});
