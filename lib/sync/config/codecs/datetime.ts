import { invalidText, type Codec } from './codec';

/**
 * Dates and times, from Postgres' ISO DateStyle output to ISO-8601 text that sorts as it compares:
 * timestamptz → `YYYY-MM-DDTHH:MM:SS.ffffffZ` (converted to UTC, always six fraction digits),
 * timestamp → the same without `Z`, date → `YYYY-MM-DD`, time → `HH:MM:SS.ffffff`.
 * Years outside 0000–9999 use ISO's expanded form (`+010000`, `-000001` for 2 BC);
 * `infinity` and `-infinity` stay as those words.
 */

const ZEROS = ['', '0', '00', '000', '0000', '00000', '000000'];
const GENERAL =
  /^(\d{4,})-(\d\d)-(\d\d)(?:[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?)?(?:(Z)|([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?)?( BC)?$/;

function fraction(digits: string | undefined): string {
  if (digits === undefined) return '000000';
  return digits.length >= 6 ? digits.slice(0, 6) : digits + ZEROS[6 - digits.length];
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function isoYear(year: number): string {
  if (year >= 0 && year <= 9999) return String(year).padStart(4, '0');
  return (year < 0 ? '-' : '+') + String(Math.abs(year)).padStart(6, '0');
}

type Shape = 'timestamptz' | 'timestamp' | 'date';

/** Parses any accepted form; returns ISO text or undefined. Offsets are applied for timestamptz. */
function parse(text: string, shape: Shape): string | undefined {
  if (text === 'infinity' || text === '-infinity') return text;
  const m = GENERAL.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, z, sign, oh, om, os, bc] = m;
  const hasTime = h !== undefined;
  const hasOffset = z !== undefined || sign !== undefined;
  // A date with an offset but no time is malformed; a timestamp for a date column (Drizzle's Date
  // constant) keeps its UTC date part.
  if (shape === 'date' && hasOffset && !hasTime) return undefined;
  if (shape === 'timestamptz' && (!hasTime || !hasOffset)) return undefined;
  if (shape === 'timestamp' && !hasTime) return undefined;
  let year = Number(y);
  if (bc !== undefined) year = 1 - year;
  const date = new Date(0);
  date.setUTCFullYear(year, Number(mo) - 1, Number(d));
  if (date.getUTCMonth() !== Number(mo) - 1) return undefined; // e.g. February 30
  if (!hasTime) return `${isoYear(year)}-${mo}-${d}`;
  const offset = sign === undefined ? 0 : (sign === '-' ? -1 : 1) * (Number(oh) * 3600 + Number(om ?? 0) * 60 + Number(os ?? 0));
  date.setUTCHours(Number(h), Number(mi), Number(s) - offset, 0);
  if (Number.isNaN(date.getTime())) return undefined;
  const day = `${isoYear(date.getUTCFullYear())}-${pad2(date.getUTCMonth() + 1)}-${pad2(date.getUTCDate())}`;
  if (shape === 'date') return day;
  const time = `${pad2(date.getUTCHours())}:${pad2(date.getUTCMinutes())}:${pad2(date.getUTCSeconds())}.${fraction(frac)}`;
  return `${day}T${time}${shape === 'timestamptz' ? 'Z' : ''}`;
}

/** `YYYY-MM-DD HH:MM:SS[.f{1,6}]+00`: what the replicator's sessions (TimeZone UTC) print. */
const UTC_SHAPE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})?\+00$/;

/** What follows `HH:MM:SS.f…` in the ISO text, by the text's length minus 22: the fraction's padding and `Z`. */
const UTC_TAIL = ['.000000Z', '', '00000Z', '0000Z', '000Z', '00Z', '0Z', 'Z'];

function timestamptzKey(text: string): string {
  // The common case takes no Date: reorder the text. Built from three pieces (date and `T` copied
  // into one short flat string, the time, the tail) so the row's JSON rope stays shallow.
  if (UTC_SHAPE.test(text)) {
    const n = text.length;
    return n === 22 ? text.slice(0, 10) + 'T' + text.slice(11, 19) + UTC_TAIL[0]! : text.slice(0, 10) + 'T' + text.slice(11, n - 3) + UTC_TAIL[n - 22]!;
  }
  return parse(text, 'timestamptz') ?? invalidText('a timestamptz', text);
}

function valueText(value: unknown): string | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  return typeof value === 'string' ? value : undefined;
}

function dateTimeCodec(shape: Shape, key: (text: string) => string): Codec {
  return {
    wire: shape,
    sqliteType: 'TEXT',
    compareKind: shape === 'date' ? 'date' : 'timestamp',
    plainKeys: true,
    json: (text) => `"${key(text)}"`,
    quoted: true,
    inner: key,
    key,
    keyOfValue: (value) => {
      const text = valueText(value);
      return text === undefined ? undefined : parse(text, shape);
    },
  };
}

/** timestamp with time zone → UTC ISO-8601 with `Z`. */
export const timestamptzCodec = dateTimeCodec('timestamptz', timestamptzKey);

/** timestamp without time zone → ISO-8601 without an offset (a wall-clock time). */
export const timestampCodec = dateTimeCodec('timestamp', (text) => parse(text, 'timestamp') ?? invalidText('a timestamp', text));

/** date → `YYYY-MM-DD`. */
export const dateCodec = dateTimeCodec('date', (text) => parse(text, 'date') ?? invalidText('a date', text));

const TIME = /^(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?$/;

function timeKey(text: string): string {
  const m = TIME.exec(text);
  return m ? `${m[1]}:${m[2]}:${m[3]}.${fraction(m[4])}` : invalidText('a time', text);
}

/** time without time zone → `HH:MM:SS.ffffff`. */
export const timeCodec: Codec = {
  wire: 'time',
  sqliteType: 'TEXT',
  compareKind: 'time',
  plainKeys: true,
  json: (text) => `"${timeKey(text)}"`,
  quoted: true,
  inner: timeKey,
  key: timeKey,
  keyOfValue: (value) => (typeof value === 'string' && TIME.test(value) ? timeKey(value) : undefined),
};
