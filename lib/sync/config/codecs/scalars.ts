import { invalidText, quote, quoteInner, type Codec } from './codec';

/**
 * Codecs of the scalar types whose text format needs little work. Values are validated where a
 * malformed one could change a key or break the JSON.
 */

function stringKey(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** text, varchar, enums, inet, cidr, macaddr: strings, equal when their texts are. */
export function textCodec(compareKind: string, wire: 'text' | 'enum' = 'text'): Codec {
  return { wire, sqliteType: 'TEXT', compareKind, plainKeys: false, json: quote, quoted: true, inner: quoteInner, key: (text) => text, keyOfValue: stringKey };
}

/** char(n) (bpchar): Postgres ignores trailing spaces when comparing, so the key drops them. */
export function charCodec(): Codec {
  const trim = (text: string) => text.replace(/ +$/, '');
  return {
    wire: 'text',
    sqliteType: 'TEXT',
    compareKind: 'text',
    plainKeys: false,
    json: quote,
    quoted: true,
    inner: quoteInner,
    key: trim,
    keyOfValue: (value) => (typeof value === 'string' ? trim(value) : undefined),
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The 8-4-4-4-12 shape: all a row value needs, since Postgres only prints canonical uuids. */
function hasUuidShape(text: string): boolean {
  return text.length === 36 && text.charCodeAt(8) === 45 && text.charCodeAt(13) === 45 && text.charCodeAt(18) === 45 && text.charCodeAt(23) === 45;
}

/**
 * uuid: Postgres prints the canonical lowercase form, so row values are only checked for shape
 * (a full check costs as much as the rest of a row); claims and constants are fully checked and
 * lowercased. Keys are quoted when embedded in ids, so a malformed value cannot break them.
 */
export const uuidCodec: Codec = {
  wire: 'uuid',
  sqliteType: 'TEXT',
  compareKind: 'uuid',
  plainKeys: false,
  json: quote,
  quoted: true,
  inner: quoteInner,
  key: (text) => (hasUuidShape(text) ? text : invalidText('a uuid', text)),
  keyOfValue: (value) => {
    if (typeof value !== 'string') return undefined;
    const lower = value.toLowerCase();
    return UUID.test(lower) ? lower : undefined;
  },
};

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
    json: integerKey,
    quoted: false,
    inner: integerKey,
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
export const numericCodec: Codec = {
  wire: 'numeric',
  sqliteType: 'TEXT',
  compareKind: 'numeric',
  plainKeys: true,
  json: (text) => (NUMERIC.test(text) ? `"${text}"` : invalidText('a numeric', text)),
  quoted: true,
  inner: (text) => (NUMERIC.test(text) ? text : invalidText('a numeric', text)),
  key: numericKey,
  keyOfValue: (value) =>
    typeof value === 'string' && NUMERIC.test(value) ? numericKey(value) : typeof value === 'number' && Number.isFinite(value) ? numericKey(String(value)) : undefined,
};

function floatJson(text: string): string {
  if (text === 'NaN' || text === 'Infinity' || text === '-Infinity') return 'null';
  const n = Number(text);
  return Number.isFinite(n) && text.trim() !== '' ? String(n) : invalidText('a float', text);
}

/** float4, float8: JSON numbers (JS's shortest form of the same double); NaN and ±Infinity become null. */
export const floatCodec: Codec = {
  wire: 'float',
  sqliteType: 'REAL',
  compareKind: 'float',
  plainKeys: true,
  json: floatJson,
  quoted: false,
  inner: floatJson,
  key: (text) => {
    const n = Number(text);
    if (text === 'NaN' || text === 'Infinity' || text === '-Infinity') return text;
    return Number.isFinite(n) && text.trim() !== '' ? String(n) : invalidText('a float', text);
  },
  keyOfValue: (value) => (typeof value === 'number' ? String(value) : undefined),
};

function boolKey(text: string): string {
  return text === 't' ? '1' : text === 'f' ? '0' : invalidText('t or f', text);
}

/** bool: Postgres prints t/f; the wire value is SQLite's 1/0. */
export const boolCodec: Codec = {
  wire: 'bool',
  sqliteType: 'INTEGER',
  compareKind: 'boolean',
  plainKeys: true,
  json: boolKey,
  quoted: false,
  inner: boolKey,
  key: boolKey,
  keyOfValue: (value) => (value === true || value === 't' ? '1' : value === false || value === 'f' ? '0' : undefined),
};

/** json, jsonb: the wire value is a JSON string holding the document's JSON text. */
export const jsonCodec: Codec = {
  wire: 'json',
  sqliteType: 'TEXT',
  compareKind: undefined,
  plainKeys: false,
  json: quote,
  quoted: true,
  inner: quoteInner,
  key: (text) => text,
  keyOfValue: () => undefined,
};

const HEX = /^\\x([0-9a-fA-F]{2})*$/;

function byteaHex(text: string): string {
  return HEX.test(text) ? text.slice(2).toLowerCase() : invalidText('bytea in hex format (\\x...)', text);
}

/** bytea (hex output format): the wire value is the lowercase hex string without the \x prefix. */
export const byteaCodec: Codec = {
  wire: 'bytea',
  sqliteType: 'BLOB',
  compareKind: undefined,
  plainKeys: true,
  json: (text) => `"${byteaHex(text)}"`,
  quoted: true,
  inner: byteaHex,
  key: (text) => text,
  keyOfValue: () => undefined,
};
