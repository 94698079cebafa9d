import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { opChecksum } from '@/lib/sync/protocol/checksum';
import { storageOpChecksum } from './checksum';
import { OpsCopy } from './copy-rows';

describe('storageOpChecksum', () => {
  it('equals the protocol checksum for any text, lone surrogates included', () => {
    const text = fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.string());
    fc.assert(
      fc.property(fc.constantFrom('PUT' as const, 'REMOVE' as const), text, text, fc.option(text), (op, table, rowId, data) => {
        expect(storageOpChecksum(op, table, rowId, data)).toBe(opChecksum(op, table, rowId, data));
      }),
      { numRuns: 2000 },
    );
  });

  it('equals it on known edge cases', () => {
    for (const data of ['', '\ud800', 'a\udc00b', '😀', '\ud83d\ude00x\ud83d', 'x'.repeat(100_000), '{"a":"ü✓\\u0000"}']) {
      expect(storageOpChecksum('PUT', 'todos', 'r', data)).toBe(opChecksum('PUT', 'todos', 'r', data));
    }
  });

  it('is what OpsCopy computes from the bytes it encodes', () => {
    const text = fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.string());
    fc.assert(
      fc.property(fc.array(fc.record({ put: fc.boolean(), table: text, rowId: text, data: text }), { maxLength: 20 }), (ops) => {
        const encoder = new OpsCopy(1);
        for (const o of ops) {
          const data = o.put ? o.data : null;
          expect(encoder.add('b', o.put ? 'PUT' : 'REMOVE', o.table, o.rowId, data)).toBe(opChecksum(o.put ? 'PUT' : 'REMOVE', o.table, o.rowId, data));
        }
        encoder.finish(0);
      }),
      { numRuns: 300 },
    );
  });
});
