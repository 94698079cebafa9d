import { bigint, boolean, char, customType, date, doublePrecision, integer, jsonb, numeric, pgEnum, pgTable, primaryKey, text, time, timestamp, uuid } from 'drizzle-orm/pg-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import rulesConfig from '@/sync.config';
import { bucket, compileSyncRules, defineSyncRules, eq, from, fromToken, inArray, token, type EvaluatedRow, type SourceRow } from '@/lib/sync/config';
import { compileBucket } from '../compile/bucket';
import type { BucketIR } from '../compile/ir';
import type { Codec } from '../codecs/codec';
import type { SyncRulesNode } from '../dsl/nodes';

/**
 * The row evaluator's fast path (glued JSON pieces, escape checks by regex, pre-built bucket id
 * prefixes) against a plain reference written from docs/sync-rules.md: every string value through
 * JSON.stringify, the data object joined with ',', bucket ids as name + JSON.stringify(values).
 * Random rows of every mapped type, with strings that need escaping, unicode and lone surrogates.
 */

const UTC = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?\+00$/;

/** The wire JSON of one non-null value, written out per type; codec.json only for the general date parser. */
function referenceJson(codec: Codec, text: string): string {
  switch (codec.wire) {
    case 'uuid':
    case 'text':
    case 'enum':
    case 'json':
      return JSON.stringify(text);
    case 'int':
    case 'int8':
      if (!/^-?(0|[1-9]\d*)$/.test(text)) throw new Error('invalid integer');
      return text;
    case 'bool':
      if (text !== 't' && text !== 'f') throw new Error('invalid bool');
      return text === 't' ? '1' : '0';
    case 'bytea':
      if (!/^\\x([0-9a-fA-F]{2})*$/.test(text)) throw new Error('invalid bytea');
      return JSON.stringify(text.slice(2).toLowerCase());
    case 'timestamptz': {
      const m = UTC.exec(text);
      if (m) return JSON.stringify(`${m[1]}T${m[2]}.${(m[3] ?? '').padEnd(6, '0')}Z`);
      return codec.json(text);
    }
    default:
      return codec.json(text);
  }
}

function read(row: SourceRow, column: string): string | null {
  const text = row[column];
  if (text === undefined) throw new Error(`missing ${column}`);
  return text;
}

/** evaluateRow as the docs describe it, one query at a time, with nothing precomputed. */
function referenceEvaluate(buckets: readonly BucketIR[], table: string, row: SourceRow, extras: readonly string[] = []): EvaluatedRow[] {
  const results: EvaluatedRow[] = [];
  for (const b of buckets) {
    for (const q of b.dataQueries) {
      if (q.table.name !== table) continue;
      const constantsMatch = q.constants.every((c) => {
        const text = read(row, c.column.name);
        return text !== null && c.keys.includes(c.codec.key(text));
      });
      if (!constantsMatch) continue;
      const values: string[] = [];
      let matches = true;
      for (const binding of q.bindings) {
        const text = read(row, binding.column.name);
        const key = text === null ? null : binding.codec.key(text);
        if (key === null || (values[binding.param] !== undefined && values[binding.param] !== key)) {
          matches = false;
          break;
        }
        values[binding.param] = key;
      }
      if (!matches) continue;
      const id = b.name + JSON.stringify(values);
      if (results.some((r) => r.bucket === id && r.table === q.clientTable)) continue;
      const keys = q.table.primaryKey.map((c) => {
        const text = read(row, c.name);
        if (text === null) throw new Error('null key');
        return c.type.codec!.key(text);
      });
      const fields = q.columns.map((c) => {
        const text = read(row, c.name);
        return `${JSON.stringify(c.name)}:${text === null ? 'null' : referenceJson(c.type.codec!, text)}`;
      });
      if (q.extraColumns) for (const name of extras) if (row[name] !== undefined) fields.push(`${JSON.stringify(name)}:${JSON.stringify(row[name])}`);
      results.push({ bucket: id, table: q.clientTable, rowId: keys.length === 1 ? keys[0]! : JSON.stringify(keys), data: `{${fields.join(',')}}` });
    }
  }
  return results;
}

function irOf(config: unknown): BucketIR[] {
  return Object.entries((config as SyncRulesNode).buckets).map(([name, node]) => compileBucket(name, node, 'test'));
}

/** Either the result or the fact that it threw: bad values must fail in both, good ones agree. */
function outcome(fn: () => EvaluatedRow[]): EvaluatedRow[] | 'throws' {
  try {
    return fn();
  } catch {
    return 'throws';
  }
}

const mood = pgEnum('mood', ['happy', 'sad', 'it\'s "ok"']);
const bytea = customType<{ data: Buffer }>({ dataType: () => 'bytea' });
const things = pgTable('things', {
  id: uuid('id').primaryKey(),
  owner: uuid('owner'),
  region: text('region'),
  team: integer('team'),
  big: bigint('big', { mode: 'bigint' }),
  amount: numeric('amount'),
  ratio: doublePrecision('ratio'),
  flag: boolean('flag'),
  at: timestamp('at', { withTimezone: true }),
  local: timestamp('local'),
  day: date('day'),
  clock: time('clock'),
  doc: jsonb('doc'),
  blob: bytea('blob'),
  tags: text('tags').array(),
  mood: mood('mood'),
  ['__proto__']: text('__proto__'),
});
const pairs = pgTable('pairs', { name: text('name').notNull(), n: bigint('n', { mode: 'bigint' }).notNull(), note: text('note') }, (t) => [primaryKey({ columns: [t.name, t.n] })]);

const config = defineSyncRules({
  buckets: {
    everyone: bucket({ data: () => [from(things).where(eq(things.flag, true)), from(pairs)] }),
    mine: bucket({ parameters: fromToken({ owner: token.sub }), data: ({ owner }) => [from(things).where(eq(things.owner, owner))] }),
    regional: bucket({
      parameters: fromToken({ region: token.claim('region') }),
      data: ({ region }) => [
        from(things).select(things.id, things.region, things.doc, things.tags).as('thing_docs').where(eq(things.region, region), inArray(things.mood, ['happy', 'it\'s "ok"'])),
        from(pairs).where(eq(pairs.name, region)),
      ],
    }),
    team: bucket({
      parameters: fromToken({ region: token.claim('region'), team: token.claim('team', 'number') }),
      data: ({ region, team }) => [from(things).omit(things.blob).as('team_things').where(eq(things.team, team), eq(things.region, region))],
    }),
  },
});
const compiled = compileSyncRules(config);
const ir = irOf(config);

const nullable = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: null, freq: 4 });
const tricky = fc.constantFrom('"', '\\', '\u2028', '\ud800', '\udc00x', 'é', '\u0000', 'a"b\\c\nd', '😀', '\ud83d', 'plain', '');
const anyText = fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), tricky, fc.constantFrom('eu', 'us'));
const digits = (n: number) => fc.integer({ min: 0, max: 10 ** n - 1 }).map((x) => String(x).padStart(n, '0'));
const fraction = fc.integer({ min: 0, max: 6 }).chain((n) => (n === 0 ? fc.constant('') : digits(n).map((d) => `.${d}`)));
const wallClock = fc
  .tuple(fc.integer({ min: 1, max: 9999 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 28 }), fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 59 }), fraction)
  .map(([y, mo, d, h, mi, s, f]) => `${String(y).padStart(4, '0')}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')} ${String(h).padStart(2, '0')}:${String(mi).padStart(2, '0')}:${String(s).padStart(2, '0')}${f}`);
const timestamptz = fc.oneof(
  { arbitrary: wallClock.map((t) => `${t}+00`), weight: 4 },
  fc.tuple(wallClock, fc.constantFrom('+05:30', '-08', '+00', '+01:02:03', 'Z')).map(([t, z]) => t + z),
  wallClock.map((t) => `${t}+00 BC`),
  fc.constantFrom('infinity', '-infinity'),
);
const pgText = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

const thingRow = fc.record({
  id: fc.uuid(),
  owner: nullable(fc.uuid()),
  region: nullable(anyText),
  team: nullable(fc.integer({ min: -3, max: 3 }).map(String)),
  big: nullable(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String)),
  amount: nullable(fc.tuple(fc.bigInt(), fc.nat(99)).map(([a, b]) => `${a}.${String(b).padStart(2, '0')}`)),
  ratio: nullable(fc.oneof(fc.double().map(String), fc.constantFrom('NaN', 'Infinity', '-Infinity', '1e+300'))),
  flag: nullable(fc.constantFrom('t', 'f')),
  at: nullable(timestamptz),
  local: nullable(wallClock),
  day: nullable(wallClock.map((t) => t.slice(0, 10))),
  clock: nullable(wallClock.map((t) => t.slice(11))),
  doc: nullable(fc.oneof(fc.json(), tricky)),
  blob: nullable(fc.uint8Array({ maxLength: 8 }).map((b) => `\\x${Buffer.from(b).toString('hex')}`)),
  tags: nullable(fc.array(fc.option(anyText, { nil: null }), { maxLength: 4 }).map((xs) => `{${xs.map((x) => (x === null ? 'NULL' : pgText(x))).join(',')}}`)),
  mood: nullable(fc.constantFrom('happy', 'sad', 'it\'s "ok"')),
  ['__proto__']: nullable(anyText),
});
const pairRow = fc.record({ name: anyText, n: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String), note: nullable(anyText) });

/** A value that is not in its column's text format, for the rows that must fail in both. */
const corrupt = fc.tuple(fc.constantFrom('id', 'owner', 'team', 'big', 'amount', 'ratio', 'flag', 'at', 'local', 'day', 'clock', 'blob', 'tags'), fc.constantFrom('x"y', '', '1.5', 'tt', '2026-13-01 00:00:00+00', '{', '\\xz'));

describe('evaluateRow fast path = plain reference', () => {
  it('on random rows of every type, several buckets, constants, IN, composite keys and client tables', () => {
    fc.assert(
      fc.property(thingRow, pairRow, (thing, pair) => {
        expect(compiled.evaluateRow('things', thing)).toEqual(referenceEvaluate(ir, 'things', thing));
        expect(compiled.evaluateRow('pairs', pair)).toEqual(referenceEvaluate(ir, 'pairs', pair));
      }),
      { numRuns: 800 },
    );
  }, 60_000);

  it('throws where the reference does, and only there, for values not in their text format', () => {
    fc.assert(
      fc.property(thingRow, corrupt, (thing, [column, bad]) => {
        const row = { ...thing, [column]: bad };
        expect(outcome(() => compiled.evaluateRow('things', row))).toEqual(outcome(() => referenceEvaluate(ir, 'things', row)));
      }),
      { numRuns: 500 },
    );
  }, 60_000);

  it('with columns schema.ts does not know yet', () => {
    const extras = ['added', 'also "quoted"'];
    const withExtras = compileSyncRules(config);
    withExtras.observeColumns('pairs', ['name', 'n', 'note', ...extras]);
    fc.assert(
      fc.property(pairRow, nullable(anyText), nullable(anyText), (pair, a, b) => {
        const row = { ...pair, added: a, 'also "quoted"': b };
        expect(withExtras.evaluateRow('pairs', row)).toEqual(referenceEvaluate(ir, 'pairs', row, extras));
      }),
      { numRuns: 300 },
    );
  }, 60_000);

  it('on tables read by one query, binding a text column, or a char(n) column whose key drops trailing spaces', () => {
    const labels = pgTable('labels', { code: char('code', { length: 4 }).primaryKey(), note: text('note') });
    const memos = pgTable('memos', { id: uuid('id').primaryKey(), owner: text('owner'), note: text('note') });
    const single = defineSyncRules({
      buckets: {
        byCode: bucket({ parameters: fromToken({ code: token.claim('code') }), data: ({ code }) => [from(labels).where(eq(labels.code, code))] }),
        byOwner: bucket({ parameters: fromToken({ owner: token.sub }), data: ({ owner }) => [from(memos).select(memos.note, memos.owner).where(eq(memos.owner, owner))] }),
      },
    });
    const fast = compileSyncRules(single);
    const reference = irOf(single);
    const padded = fc.tuple(anyText, fc.constantFrom('', ' ', '  ')).map(([t, pad]) => t + pad);
    fc.assert(
      fc.property(padded, nullable(anyText), fc.uuid(), nullable(padded), (code, note, id, owner) => {
        expect(fast.evaluateRow('labels', { code, note })).toEqual(referenceEvaluate(reference, 'labels', { code, note }));
        expect(fast.evaluateRow('memos', { id, owner, note })).toEqual(referenceEvaluate(reference, 'memos', { id, owner, note }));
      }),
      { numRuns: 500 },
    );
  }, 60_000);

  it('on the demo rules', () => {
    const demo = compileSyncRules(rulesConfig);
    const demoIr = irOf(rulesConfig);
    const todo = fc.record({
      id: fc.uuid(),
      list_id: nullable(fc.uuid()),
      description: anyText,
      notes: nullable(anyText),
      completed: fc.constantFrom('t', 'f'),
      completed_at: nullable(timestamptz),
      created_by: fc.uuid(),
      created_at: timestamptz,
    });
    fc.assert(
      fc.property(todo, (row) => {
        expect(demo.evaluateRow('todos', row)).toEqual(referenceEvaluate(demoIr, 'todos', row));
      }),
      { numRuns: 1000 },
    );
  }, 60_000);
});
