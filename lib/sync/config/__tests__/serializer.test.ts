import { bigint, boolean, customType, date, doublePrecision, integer, jsonb, numeric, pgEnum, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tableInfo } from '../compile/tables';
import { rowSerializer } from '../evaluate/serializer';

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
  const serialize = rowSerializer('everything', columns);

  it('writes valid JSON: every column in order, each value its codec\'s JSON, int8 digits exact', () => {
    fc.assert(
      fc.property(row, fc.option(fc.string(), { nil: null }), (r, proto) => {
        const source = { ...r, ['__proto__']: proto };
        const text = serialize(source);
        const parsed = JSON.parse(text) as Record<string, unknown>;
        expect(Object.keys(parsed)).toEqual(columns.map((c) => c.name));
        for (const c of columns) {
          const value = source[c.name as keyof typeof source];
          expect(parsed[c.name]).toEqual(value === null ? null : JSON.parse(c.type.codec!.json(value)));
        }
        if (r.big !== null) expect(text).toContain(`"big":${r.big},`);
      }),
      { numRuns: 500 },
    );
  });

  it('names the table and column of a missing or malformed value', () => {
    const [sample] = fc.sample(row, 1);
    expect(() => serialize({ ...sample!, flag: undefined })).toThrow(/everything has no value for column "flag"/);
    expect(() => serialize({ ...sample!, ['__proto__']: null, small: 'x' })).toThrow(/Row of everything, column "small": expected an integer/);
  });
});
