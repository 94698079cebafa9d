import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineChunks } from '../chunks';

describe('LineChunks', () => {
  it('joins small lines into one chunk and sends a large line as the very buffer it came in', () => {
    const out = new LineChunks(100);
    out.text('{"type":"checkpoint_diff"}\n');
    const small = Buffer.from('{"type":"data","ops":[]}\n');
    expect(out.bytes(small)).toEqual([]);
    const large = Buffer.alloc(150, 0x61);
    const sent = out.bytes(large);
    expect(sent).toHaveLength(2);
    expect(Buffer.from(sent[0]!).toString()).toBe('{"type":"checkpoint_diff"}\n{"type":"data","ops":[]}\n');
    expect(sent[1]).toBe(large);
    expect(out.take()).toBeUndefined();
  });

  it('hands over exactly the bytes given, in order, whatever the sizes (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.string({ unit: 'grapheme', maxLength: 40 }))), fc.integer({ min: 1, max: 64 }), (lines, flush) => {
        const out = new LineChunks(flush);
        const chunks: Uint8Array[] = [];
        for (const [asText, line] of lines) {
          if (asText) out.text(line);
          else chunks.push(...out.bytes(Buffer.from(line, 'utf8')));
        }
        const rest = out.take();
        if (rest) chunks.push(rest);
        expect(Buffer.concat(chunks).toString('utf8')).toBe(lines.map(([, line]) => line).join(''));
        // Nothing is sent empty.
        expect(chunks.every((c) => c.length > 0)).toBe(true);
      }),
    );
  });
});
