import { bigint, boolean, customType, date, doublePrecision, integer, jsonb, numeric, pgEnum, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tableInfo } from '../compile/tables';
import { concatSerializer, rowSerializer } from '../evaluate/serializer';

const mood = pgEnum('mood', ['happy', 'sad']);
const bytea = customType<{ data: Buffer }>({ dataType: () => 'bytea' });
const everything = pgTable('everything', {
  id: uuid('id').primaryKey(),
  label: text('label'),
  small: integer('small'),
  big: bigint('big', { mode: 'bigint' }),
  amount: numeric('amount'),
  ratio: doublePrecision('ratio'),
  flag: boolean('flag'),
  at: timestamp('at', { withTimezone: true }),
  day: date('day'),
  doc: jsonb('doc'),
  blob: bytea('blob'),
  tags: text('tags').array(),
  mood: mood('mood'),
  ['__proto__']: text('__proto__'),
});

const nullable = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: null });
const row = fc.record({
  id: fc.uuid(),
  label: nullable(fc.string({ unit: 'binary' })),
  small: nullable(fc.integer().map(String)),
  big: nullable(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String)),
  amount: nullable(fc.tuple(fc.bigInt(), fc.nat(99)).map(([a, b]) => `${a}.${String(b).padStart(2, '0')}`)),
  ratio: nullable(fc.double().map((d) => (Number.isNaN(d) ? 'NaN' : d === Infinity ? 'Infinity' : d === -Infinity ? '-Infinity' : String(d)))),
  flag: nullable(fc.constantFrom('t', 'f')),
  at: nullable(fc.date({ min: new Date('1970-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => `${d.toISOString().slice(0, 23).replace('T', ' ')}+00`)),
  day: nullable(fc.date({ min: new Date('1970-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10))),
  doc: nullable(fc.json()),
  blob: nullable(fc.uint8Array().map((b) => `\\x${Buffer.from(b).toString('hex')}`)),
  tags: nullable(fc.array(fc.string()).map((xs) => `{${xs.map((x) => `"${x.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',')}}`)),
  mood: nullable(fc.constantFrom('happy', 'sad')),
});

describe('row serializer', () => {
  const { columns } = tableInfo(everything, { source: 'test' });
  const withoutProto = columns.filter((c) => c.name !== '__proto__');
  const fast = rowSerializer('everything', withoutProto);
  const exact = concatSerializer('everything', withoutProto);

  it('writes the same JSON text through the one-stringify path and the exact concatenating path', () => {
    fc.assert(
      fc.property(row, (r) => {
        const text = fast(r);
        expect(text).toBe(exact(r));
        const parsed = JSON.parse(text) as Record<string, unknown>;
        expect(Object.keys(parsed)).toEqual(withoutProto.map((c) => c.name));
        if (r.big !== null) expect(text).toContain(`"big":${r.big},`);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps a column named __proto__ as data', () => {
    expect(columns.map((c) => c.name)).toContain('__proto__');
    const serialize = rowSerializer('everything', columns);
    const text = serialize({ ...fc.sample(row, 1)[0]!, ['__proto__']: 'x' });
    expect(text.endsWith(',"__proto__":"x"}')).toBe(true);
  });
});
