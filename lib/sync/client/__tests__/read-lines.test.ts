import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readLines } from '../sync/read-lines';

function bodyOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(c);
      controller.close();
    },
  });
}

async function collect(chunks: Uint8Array[]): Promise<string[]> {
  const out: string[] = [];
  for await (const lines of readLines(bodyOf(chunks))) out.push(...lines);
  return out;
}

describe('readLines', () => {
  it('gives back every complete line, however the bytes are split (multi-byte characters included)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ unit: 'grapheme', minLength: 1 }).filter((s) => !s.includes('\n')), { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), async (lines, cuts) => {
        const bytes = new TextEncoder().encode(lines.map((l) => `${l}\n`).join(''));
        const points = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % bytes.length)))].sort((a, b) => a - b);
        const chunks: Uint8Array[] = [];
        let from = 0;
        for (const p of [...points, bytes.length]) {
          chunks.push(bytes.subarray(from, p));
          from = p;
        }
        expect(await collect(chunks)).toEqual(lines);
      }),
    );
  });

  it('drops a last line cut off before its newline', async () => {
    expect(await collect([new TextEncoder().encode('{"a":1}\n{"b":')])).toEqual(['{"a":1}']);
  });
});
