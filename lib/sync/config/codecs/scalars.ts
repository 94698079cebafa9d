import { invalidText, UNSAFE_INTEGER, viaValue, type Codec } from './codec';

/**
 * Codecs of the scalar types whose text format needs little work. Values are validated where a
 * malformed one could change a key; strings are escaped by the single JSON.stringify per row.
 */

function stringKey(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** text, varchar, enums, inet, cidr, macaddr: strings, equal when their texts are. */
export function textCodec(compareKind: string, wire: 'text' | 'enum' = 'text'): Codec {
  return viaValue({ wire, sqliteType: 'TEXT', compareKind, plainKeys: false, value: (text) => text, key: (text) => text, keyOfValue: stringKey });
}

/** char(n) (bpchar): Postgres ignores trailing spaces when comparing, so the key drops them. */
export function charCodec(): Codec {
  const trim = (text: string) => text.replace(/ +$/, '');
  return viaValue({
    wire: 'text',
    sqliteType: 'TEXT',
    compareKind: 'text',
    plainKeys: false,
    value: (text) => text,
    key: trim,
    keyOfValue: (value) => (typeof value === 'string' ? trim(value) : undefined),
  });
}

/** True for the canonical form Postgres prints: 8-4-4-4-12 lowercase hex digits. */
function isCanonicalUuid(text: string): boolean {
  if (text.length !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const c = text.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 45) return false;
    } else if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/** uuid: Postgres prints the canonical lowercase form; claims and constants are normalised to it. */
export const uuidCodec: Codec = viaValue({
  wire: 'uuid',
  sqliteType: 'TEXT',
  compareKind: 'uuid',
  plainKeys: true,
  value: (text) => text,
  key: (text) => (isCanonicalUuid(text) ? text : invalidText('a uuid', text)),
  keyOfValue: (value) => {
    if (typeof value !== 'string') return undefined;
    const lower = value.toLowerCase();
    return isCanonicalUuid(lower) ? lower : undefined;
  },
});

/** Integers as Postgres prints them (no leading zeros); claims may be any run of digits. */
const INTEGER = /^-?(0|[1-9]\d*)$/;
const LOOSE_INTEGER = /^-?\d+$/;

function integerKey(text: string): string {
  return INTEGER.test(text) ? text : invalidText('an integer', text);
}

function canonicalInteger(digits: string): string {
  const negative = digits.startsWith('-');
  const body = (negative ? digits.slice(1) : digits).replace(/^0+(?=\d)/, '');
  return negative && body !== '0' ? `-${body}` : body;
}

/**
 * int2, int4 and int8: JSON numbers with Postgres' exact digits, so int8 stays lossless on the
 * wire and in SQLite's 64-bit INTEGER (only a read into a JS number would round beyond 2^53).
 */
export function integerCodec(wire: 'int' | 'int8'): Codec {
  return {
    wire,
    sqliteType: 'INTEGER',
    compareKind: 'integer',
    plainKeys: true,
    value: (text) => {
      const n = +text;
      if (Number.isSafeInteger(n) && String(n) === text) return n;
      return INTEGER.test(text) ? UNSAFE_INTEGER : invalidText('an integer', text);
    },
    json: integerKey,
    key: integerKey,
    keyOfValue: (value) => {
      if (typeof value === 'number') return Number.isSafeInteger(value) ? String(value) : undefined;
      if (typeof value === 'bigint') return String(value);
      return typeof value === 'string' && LOOSE_INTEGER.test(value) ? canonicalInteger(value) : undefined;
    },
  };
}

const NUMERIC = /^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$|^NaN$|^-?Infinity$/i;

function numericKey(text: string): string {
  if (!NUMERIC.test(text)) return invalidText('a numeric', text);
  if (!text.includes('.') || /e/i.test(text)) return text;
  const trimmed = text.replace(/0+$/, '').replace(/\.$/, '');
  return trimmed === '-0' || trimmed === '' ? '0' : trimmed;
}

/** numeric: a JSON string of Postgres' text (exact); the key ignores trailing zeros of the scale. */
export const numericCodec: Codec = viaValue({
  wire: 'numeric',
  sqliteType: 'TEXT',
  compareKind: 'numeric',
  plainKeys: true,
  value: (text) => (NUMERIC.test(text) ? text : invalidText('a numeric', text)),
  key: numericKey,
  keyOfValue: (value) =>
    typeof value === 'string' && NUMERIC.test(value) ? numericKey(value) : typeof value === 'number' && Number.isFinite(value) ? numericKey(String(value)) : undefined,
});

/** float4, float8: JSON numbers (JS's shortest form of the same double); NaN and ±Infinity become null. */
export const floatCodec: Codec = viaValue({
  wire: 'float',
  sqliteType: 'REAL',
  compareKind: 'float',
  plainKeys: true,
  value: (text) => {
    if (text === 'NaN' || text === 'Infinity' || text === '-Infinity') return null;
    const n = Number(text);
    return Number.isFinite(n) && text.trim() !== '' ? n : invalidText('a float', text);
  },
  key: (text) => {
    const n = Number(text);
    if (text === 'NaN' || text === 'Infinity' || text === '-Infinity') return text;
    return Number.isFinite(n) && text.trim() !== '' ? String(n) : invalidText('a float', text);
  },
  keyOfValue: (value) => (typeof value === 'number' ? String(value) : undefined),
});

function boolValue(text: string): number {
  return text === 't' ? 1 : text === 'f' ? 0 : invalidText('t or f', text);
}

/** bool: Postgres prints t/f; the wire value is SQLite's 1/0. */
export const boolCodec: Codec = viaValue({
  wire: 'bool',
  sqliteType: 'INTEGER',
  compareKind: 'boolean',
  plainKeys: true,
  value: boolValue,
  key: (text) => (boolValue(text) === 1 ? '1' : '0'),
  keyOfValue: (value) => (value === true || value === 't' ? '1' : value === false || value === 'f' ? '0' : undefined),
});

/** json, jsonb: the wire value is a JSON string holding the document's JSON text. */
export const jsonCodec: Codec = viaValue({
  wire: 'json',
  sqliteType: 'TEXT',
  compareKind: undefined,
  plainKeys: false,
  value: (text) => text,
  key: (text) => text,
  keyOfValue: () => undefined,
});

const HEX = /^\\x([0-9a-fA-F]{2})*$/;

/** bytea (hex output format): the wire value is the lowercase hex string without the \x prefix. */
export const byteaCodec: Codec = viaValue({
  wire: 'bytea',
  sqliteType: 'BLOB',
  compareKind: undefined,
  plainKeys: true,
  value: (text) => (HEX.test(text) ? text.slice(2).toLowerCase() : invalidText('bytea in hex format (\\x...)', text)),
  key: (text) => text,
  keyOfValue: () => undefined,
});
