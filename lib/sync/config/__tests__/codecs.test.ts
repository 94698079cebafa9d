import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arrayCodec, pgArrayToJson } from '../codecs/array';
import { quote, ROW_VALUE_INVALID, type Codec } from '../codecs/codec';
import { dateCodec, timeCodec, timestampCodec, timestamptzCodec } from '../codecs/datetime';
import { boolCodec, byteaCodec, charCodec, floatCodec, integerCodec, jsonCodec, numericCodec, textCodec, uuidCodec } from '../codecs/scalars';

const int = integerCodec('int');
const int8 = integerCodec('int8');

function rejects(codec: Codec, text: string) {
  expect(() => codec.json(text)).toThrow(expect.objectContaining({ code: ROW_VALUE_INVALID }));
}

describe('scalar codecs', () => {
  it('maps each type to its documented wire value', () => {
    expect(uuidCodec.json('5f0c7d2e-0000-4000-8000-00000000000a')).toBe('"5f0c7d2e-0000-4000-8000-00000000000a"');
    expect(textCodec('text').json('a "quoted"\nline')).toBe('"a \\"quoted\\"\\nline"');
    expect(int.json('-42')).toBe('-42');
    expect(int8.json('9223372036854775807')).toBe('9223372036854775807');
    expect(numericCodec.json('12.50')).toBe('"12.50"');
    expect(floatCodec.json('1.5')).toBe('1.5');
    expect(floatCodec.json('NaN')).toBe('null');
    expect(floatCodec.json('-Infinity')).toBe('null');
    expect(boolCodec.json('t')).toBe('1');
    expect(boolCodec.json('f')).toBe('0');
    expect(jsonCodec.json('{"a": [1, 2]}')).toBe('"{\\"a\\": [1, 2]}"');
    expect(byteaCodec.json('\\xDEADbeef')).toBe('"deadbeef"');
    expect(charCodec().json('ab  ')).toBe('"ab  "');
  });

  it('keeps int8 exact beyond 2^53: the JSON number has Postgres\' digits', () => {
    expect(int8.json('9007199254740993')).toBe('9007199254740993');
    expect(int8.json('-9223372036854775808')).toBe('-9223372036854775808');
    expect(int8.key('9007199254740993')).toBe('9007199254740993');
  });

  it('canonicalises keys so equal values have equal keys', () => {
    expect(numericCodec.key('1.500')).toBe('1.5');
    expect(numericCodec.key('2.000')).toBe('2');
    expect(numericCodec.key('-0.00')).toBe('0');
    expect(floatCodec.key('-0')).toBe('0');
    expect(charCodec().key('ab  ')).toBe('ab');
    expect(boolCodec.key('t')).toBe('1');
    expect(uuidCodec.keyOfValue('5F0C7D2E-0000-4000-8000-00000000000A')).toBe('5f0c7d2e-0000-4000-8000-00000000000a');
    expect(int.keyOfValue('007')).toBe('7');
    expect(int.keyOfValue(12n)).toBe('12');
    expect(int.keyOfValue(2 ** 60)).toBeUndefined();
    expect(boolCodec.keyOfValue(false)).toBe('0');
  });

  it('rejects values that are not in their type text format, with the error code of a bad row', () => {
    rejects(boolCodec, 'true');
    rejects(int, '1.5');
    rejects(int, '007');
    rejects(numericCodec, '12,5');
    rejects(floatCodec, 'abc');
    rejects(byteaCodec, 'deadbeef');
    rejects(timestamptzCodec, '2026-01-02 03:04:05');
    rejects(dateCodec, '2026-02-30');
    expect(() => uuidCodec.key('not-a-uuid')).toThrow(expect.objectContaining({ code: ROW_VALUE_INVALID }));
    expect(uuidCodec.keyOfValue('not-a-uuid')).toBeUndefined();
    expect(uuidCodec.keyOfValue(42)).toBeUndefined();
  });
});

describe('date and time codecs', () => {
  it('writes timestamptz as UTC ISO-8601 with six fraction digits, from any offset', () => {
    expect(timestamptzCodec.json('2026-01-02 03:04:05.678+00')).toBe('"2026-01-02T03:04:05.678000Z"');
    expect(timestamptzCodec.key('2026-01-02 03:04:05+00')).toBe('2026-01-02T03:04:05.000000Z');
    expect(timestamptzCodec.key('2026-01-02 03:04:05.123456+05:30')).toBe('2026-01-01T21:34:05.123456Z');
    expect(timestamptzCodec.key('2026-01-02 03:04:05-08')).toBe('2026-01-02T11:04:05.000000Z');
    expect(timestamptzCodec.key('1900-01-01 00:00:00+00:19:32')).toBe('1899-12-31T23:40:28.000000Z');
    expect(timestamptzCodec.key('0044-03-15 12:00:00+00 BC')).toBe('-000043-03-15T12:00:00.000000Z');
    expect(timestamptzCodec.key('10000-01-01 00:00:00+00')).toBe('+010000-01-01T00:00:00.000000Z');
    expect(timestamptzCodec.key('infinity')).toBe('infinity');
    expect(timestamptzCodec.key('-infinity')).toBe('-infinity');
  });

  it('writes timestamp, date and time without converting', () => {
    expect(timestampCodec.json('2026-01-02 03:04:05.5')).toBe('"2026-01-02T03:04:05.500000"');
    expect(dateCodec.json('2026-01-02')).toBe('"2026-01-02"');
    expect(dateCodec.key('0001-01-01 BC')).toBe('0000-01-01');
    expect(timeCodec.json('23:59:59.25')).toBe('"23:59:59.250000"');
  });

  it('reads constants from Drizzle: Dates and ISO strings', () => {
    expect(timestamptzCodec.keyOfValue(new Date('2026-01-02T03:04:05.678Z'))).toBe('2026-01-02T03:04:05.678000Z');
    expect(timestamptzCodec.keyOfValue('2026-01-02T03:04:05.678Z')).toBe('2026-01-02T03:04:05.678000Z');
    expect(dateCodec.keyOfValue('2026-01-02T00:00:00.000Z')).toBe('2026-01-02');
    expect(timestamptzCodec.keyOfValue(new Date(Number.NaN))).toBeUndefined();
  });

  it('agrees with Date for any instant written at any whole-minute offset', () => {
    const instant = fc.date({ min: new Date('0100-01-01T00:00:00Z'), max: new Date('9998-12-31T23:59:59Z'), noInvalidDate: true });
    fc.assert(
      fc.property(instant, fc.integer({ min: -14 * 60, max: 14 * 60 }), fc.integer({ min: 0, max: 999 }), (date, offsetMinutes, micros) => {
        const local = new Date(date.getTime() + offsetMinutes * 60_000);
        const sign = offsetMinutes < 0 ? '-' : '+';
        const abs = Math.abs(offsetMinutes);
        const offset = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}${abs % 60 ? `:${String(abs % 60).padStart(2, '0')}` : ''}`;
        const fraction = `${String(local.getUTCMilliseconds()).padStart(3, '0')}${String(micros).padStart(3, '0')}`;
        const text = `${local.toISOString().slice(0, 19).replace('T', ' ')}.${fraction}${offset}`;
        const expected = `${date.toISOString().slice(0, 19)}.${fraction}Z`;
        expect(timestamptzCodec.key(text)).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });
});

/** Postgres array literal of nested string arrays, quoting every element as array_out may. */
function pgArray(value: unknown): string {
  if (Array.isArray(value)) return `{${value.map(pgArray).join(',')}}`;
  if (value === null) return 'NULL';
  return `"${String(value).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

describe('array codec', () => {
  it('turns Postgres array text into a JSON array of wire values', () => {
    expect(arrayCodec(int).json('{1,2,NULL}')).toBe('"[1,2,null]"');
    expect(arrayCodec(textCodec('text')).key('{a,"b c","d\\"e",NULL,"NULL"}')).toBe('["a","b c","d\\"e",null,"NULL"]');
    expect(arrayCodec(int).key('{{1,2},{3,4}}')).toBe('[[1,2],[3,4]]');
    expect(arrayCodec(int).key('[0:1]={7,8}')).toBe('[7,8]');
    expect(arrayCodec(boolCodec).key('{t,f}')).toBe('[1,0]');
    expect(arrayCodec(jsonCodec).key('{"{\\"a\\":1}",null}')).toBe('[{"a":1},null]');
    expect(arrayCodec(int).key('{}')).toBe('[]');
    expect(() => arrayCodec(int).key('{1,2')).toThrow(expect.objectContaining({ code: ROW_VALUE_INVALID }));
    expect(() => arrayCodec(int).key('{1,x}')).toThrow(expect.objectContaining({ code: ROW_VALUE_INVALID }));
  });

  it('round-trips any nesting of strings and NULLs', () => {
    const element = fc.option(fc.string({ unit: 'binary' }), { nil: null });
    const nested = fc.array(fc.oneof(element, fc.array(element, { minLength: 1, maxLength: 3 })), { maxLength: 6 });
    fc.assert(
      fc.property(nested, (value) => {
        expect(JSON.parse(pgArrayToJson(pgArray(value), (t) => JSON.stringify(t)))).toEqual(value);
      }),
      { numRuns: 300 },
    );
  });
});

describe('every codec', () => {
  it('quotes strings exactly as JSON.stringify does', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        expect(quote(text)).toBe(JSON.stringify(text));
      }),
      { numRuns: 2000 },
    );
  });

  const instant = fc.date({ min: new Date('1000-01-01'), max: new Date('9000-01-01'), noInvalidDate: true });
  const codecs: Array<[string, Codec, fc.Arbitrary<string>, (text: string, json: string) => void]> = [
    ['text', textCodec('text'), fc.string({ unit: 'binary' }), (t, j) => expect(JSON.parse(j)).toBe(t)],
    ['uuid', uuidCodec, fc.uuid(), (t, j) => expect(JSON.parse(j)).toBe(t)],
    ['int', int, fc.integer().map(String), (t, j) => expect(JSON.parse(j)).toBe(Number(t))],
    ['int8', int8, fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String), (t, j) => expect(BigInt(j)).toBe(BigInt(t))],
    ['numeric', numericCodec, fc.tuple(fc.bigInt(), fc.nat({ max: 999 })).map(([a, b]) => `${a}.${b}`), (t, j) => expect(JSON.parse(j)).toBe(t)],
    ['float', floatCodec, fc.double({ noNaN: true, noDefaultInfinity: true }).map(String), (t, j) => expect(JSON.parse(j)).toBe(Number(t) === 0 ? 0 : Number(t))],
    ['bool', boolCodec, fc.constantFrom('t', 'f'), (t, j) => expect(JSON.parse(j)).toBe(t === 't' ? 1 : 0)],
    ['json', jsonCodec, fc.json(), (t, j) => expect(JSON.parse(j)).toBe(t)],
    ['bytea', byteaCodec, fc.uint8Array().map((b) => `\\x${Buffer.from(b).toString('hex')}`), (t, j) => expect(JSON.parse(j)).toBe(t.slice(2))],
    ['timestamptz', timestamptzCodec, instant.map((d) => `${d.toISOString().slice(0, 23).replace('T', ' ')}+00`), (t, j) => expect(new Date(JSON.parse(j) as string).getTime()).toBe(new Date(t.replace(' ', 'T').replace('+00', 'Z')).getTime())],
    ['timestamp', timestampCodec, instant.map((d) => d.toISOString().slice(0, 23).replace('T', ' ')), (t, j) => expect(JSON.parse(j)).toBe(`${t.replace(' ', 'T')}000`)],
    ['date', dateCodec, instant.map((d) => d.toISOString().slice(0, 10)), (t, j) => expect(JSON.parse(j)).toBe(t)],
  ];

  it.each(codecs)('%s: json() is valid JSON of the wire value, inner() is json() without its quotes, and key() a string', (_name, codec, texts, check) => {
    fc.assert(
      fc.property(texts, (text) => {
        check(text, codec.json(text));
        expect(typeof codec.key(text)).toBe('string');
        expect(codec.json(text)).toBe(codec.quoted ? `"${codec.inner(text)}"` : codec.inner(text));
      }),
      { numRuns: 300 },
    );
  });
});
