import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { opChecksum, type DataLine } from '@/lib/sync/protocol';
import { prepareDataLineBytes } from '../storage/page-bytes';
import { preparePage, type PreparedPage } from '../storage/pages';
import { parseLine } from '../sync/lines';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Text as SQLite receives it: bound as UTF-8, so a lone surrogate is U+FFFD either way. */
const asBound = (puts: string | Uint8Array) => decoder.decode(typeof puts === 'string' ? encoder.encode(puts) : puts);

function comparable(page: PreparedPage) {
  const repaired = page.repairedPuts();
  return {
    bucket: page.bucket,
    after: page.after,
    nextAfter: page.nextAfter,
    cleared: page.cleared,
    checksum: page.checksum,
    puts: asBound(page.puts),
    repaired: { puts: asBound(repaired.puts), invalid: repaired.invalid },
    putKeys: page.putKeys(),
    putCount: page.putCount,
    removes: page.removes,
    removeCount: page.removeCount,
    opCount: page.opCount,
    tables: [...page.tables],
    corrupt: page.corrupt,
  };
}

/** Both ways of preparing a line's text: from its bytes (undefined: not the fast shape) and the general path. */
function both(text: string) {
  const fast = prepareDataLineBytes(encoder.encode(text));
  const line = parseLine(text) as DataLine;
  return { fast: fast && comparable(fast), general: comparable(preparePage(line)) };
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const tricky = fc.constantFrom('a', 'b', 'é', '😀', 'quote"d', 'back\\slash', 'tab\there', 'nul\u0000', 'line\u2028sep', 'x'.repeat(300));
const dataValue = fc.oneof(
  // JSON objects (what the replicator sends), with unicode, escapes, nulls and large values.
  fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 6 }), fc.oneof(fc.string({ unit: 'grapheme' }), fc.constant(null), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant('z'.repeat(5000)))).map((o) => JSON.stringify(o)),
  // Data that is not JSON, lone surrogates included (stored as a JSON string, with a warning).
  fc.string({ unit: 'binary', maxLength: 20 }),
);
const op = fc.record({
  kind: fc.constantFrom('PUT', 'PUT', 'PUT', 'REMOVE', 'MOVE', 'CLEAR'),
  table: fc.constantFrom('todos', 'lists', 'tâble'),
  rowId: tricky,
  data: dataValue,
  corrupt: fc.boolean(),
});

function lineOf(ops: Array<{ kind: string; table: string; rowId: string; data: string; corrupt: boolean }>, bucket = 'list["a\\"b","é"]'): string {
  let id = 100;
  return JSON.stringify({
    type: 'data',
    bucket,
    after: '100',
    next_after: String(100 + ops.length),
    has_more: false,
    ops: ops.map((o) => {
      const put = o.kind === 'PUT';
      const rowOp = put || o.kind === 'REMOVE';
      const sum = rowOp ? opChecksum(o.kind as 'PUT' | 'REMOVE', o.table, o.rowId, put ? o.data : null) : 12345;
      return { op_id: String(++id), op: o.kind, table: rowOp ? o.table : null, row_id: rowOp ? o.rowId : null, data: put ? o.data : null, checksum: o.corrupt ? (sum + 1) % 2 ** 32 : sum };
    }),
  });
}

describe('prepareDataLineBytes', () => {
  it('equals preparePage on the same line (unicode, escapes, nulls, large values, repeated rows, CLEAR, bad checksums)', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        const { fast, general } = both(lineOf(ops));
        // A lone surrogate (in non-JSON data) is left to the general path; everything else is scanned.
        if (ops.some((o) => o.kind === 'PUT' && LONE_SURROGATE.test(o.data))) expect(fast).toBeUndefined();
        else expect(fast).toEqual(general);
      }),
      { numRuns: 1000 },
    );
  });

  it('takes the keys in any order and any JSON whitespace', () => {
    const text = lineOf([{ kind: 'PUT', table: 'todos', rowId: 'r1', data: '{"id":"r1","n":"\\u00e9\\ud83d\\ude00"}', corrupt: false }]);
    const parsed = JSON.parse(text) as Record<string, unknown> & { ops: Array<Record<string, unknown>> };
    const reordered = `{ "ops" : [ ${parsed.ops.map((o) => `{\t"data": ${JSON.stringify(o.data)}, "checksum" : ${String(o.checksum)}, "row_id":"r1","table":"todos","op":"PUT","op_id":"101"}`).join(',')} ] ,\r\n"has_more":false,"next_after":"101","after":"100","bucket":"b","type":"data" }`;
    const { fast, general } = both(reordered);
    expect(fast).toBeDefined();
    expect(fast).toEqual(general);
  });

  it('leaves every other shape to the general path', () => {
    const good = lineOf([{ kind: 'PUT', table: 'todos', rowId: 'r1', data: '{"id":"r1"}', corrupt: false }]);
    expect(prepareDataLineBytes(encoder.encode(good))).toBeDefined();
    const others = [
      '{"type":"checkpoint_complete","last_op_id":"1"}',
      good.replace('"has_more":false', '"has_more":false,"extra":1'),
      good.replace('"has_more":false', '"has_more":false,"has_more":true'),
      good.replace('"checksum":', '"checksum":1e0,"x":'),
      good.replace(/"checksum":(\d+)/, '"checksum":$1.0'),
      good.replace('"after":"100"', '"after":"0100"'),
      good.replace('"after":"100"', '"after":"12345678901234567"'),
      good.replace('"table":"todos"', '"table":null'),
      good.replace('"data":"', '"data":null,"x":"'),
      good.replace('"row_id":"r1"', '"row_id":"\\ud800"'),
      good.slice(0, -1),
      `${good}x`,
    ];
    for (const text of others) expect(prepareDataLineBytes(encoder.encode(text)), text).toBeUndefined();
    // Bytes that are not UTF-8 (a lone continuation byte inside the data).
    const bytes = encoder.encode(good.replace('r1\\"}', 'r1\\"}#'));
    bytes[bytes.indexOf(0x23)] = 0x80;
    expect(prepareDataLineBytes(bytes)).toBeUndefined();
  });

  it('leaves a lone surrogate in data to the general path (the protocol checksum encodes some of them as they are, not as U+FFFD)', () => {
    for (const data of ['ab\ud800c', 'ab\ud800', '\udc00x']) {
      const text = lineOf([{ kind: 'PUT', table: 't', rowId: 'r', data, corrupt: false }]);
      expect(prepareDataLineBytes(encoder.encode(text))).toBeUndefined();
      expect(preparePage(parseLine(text) as DataLine).corrupt).toBe(0);
    }
  });

  it('counts an op whose checksum does not match its content as corrupt (the bucket then fails its checksum)', () => {
    const page = prepareDataLineBytes(encoder.encode(lineOf([{ kind: 'PUT', table: 'todos', rowId: 'r1', data: '{"id":"r1"}', corrupt: true }])))!;
    expect(page.corrupt).toBe(1);
    expect(page.checksum).toBe(opChecksum('PUT', 'todos', 'r1', '{"id":"r1"}'));
  });
});
