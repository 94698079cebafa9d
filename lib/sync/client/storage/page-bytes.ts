import { addChecksums } from '@/lib/sync/protocol';
import { CRC_TABLE, crc32Bytes, crc32Newline, opPrefixState } from './checksum';
import { isJson, type PreparedPage } from './pages';

/**
 * preparePage (storage/pages.ts) straight from a data line's UTF-8 bytes, without decoding the
 * line, JSON.parse, the checksums' walk over JS strings and the encode of the page's text for
 * SQLite: one scan finds the fields, each PUT's data is unescaped into the page's text (the row's
 * JSON, spliced in as the object it is) and its checksum is computed over the bytes written.
 * In Chromium those steps cost ~1.2 s of a 100k-row first sync (bench/client.ts --trace), most
 * of it decoding, encoding and the garbage of the parsed ops.
 *
 * Only the shape the server sends is taken this way: a JSON object with exactly the data line's
 * keys, ops with exactly an op's keys, op ids and checksums as plain digits, table and row id as
 * strings. Anything else (another line type, null table or row id, a number with a fraction or an
 * exponent, unknown or repeated keys, JSON or UTF-8 that is not valid, an escaped lone surrogate
 * ) returns undefined, and the caller takes the general path (decode,
 * sync/lines.ts parseLine, preparePage), which accepts and rejects exactly as before. So this
 * never accepts a line the general path refuses, and what it returns equals preparePage's page
 * for the same line (a unit test holds the two equal).
 */
export function prepareDataLineBytes(line: Uint8Array): PreparedPage | undefined {
  try {
    return scanDataLine(line);
  } catch (error: unknown) {
    if (error === FALLBACK) return undefined;
    throw error;
  }
}

/** Thrown inside the scan for "not the fast shape": the general path decides. */
const FALLBACK = new Error('not the fast shape');

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;

const utf8 = new TextDecoder('utf-8', { fatal: true });
const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

const LINE_KEYS = ['type', 'bucket', 'after', 'next_after', 'has_more', 'ops'].map(ascii);
const OP_KEYS = ['op_id', 'op', 'table', 'row_id', 'data', 'checksum'].map(ascii);
const OP_NAMES = ['PUT', 'REMOVE', 'MOVE', 'CLEAR'].map(ascii);
const DATA = ascii('data');
const TRUE = ascii('true');
const FALSE = ascii('false');
const NULL = ascii('null');
const PUT_STATE = opPrefixState('PUT');
const REMOVE_STATE = opPrefixState('REMOVE');

// What scanString learnt of the literal it scanned (module state: the scan is synchronous).
let escaped = false;
let nonAscii = false;

function fail(): never {
  throw FALLBACK;
}

function skipSpace(b: Uint8Array, i: number): number {
  for (;;) {
    const c = b[i];
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
    else return i;
  }
}

function expect(b: Uint8Array, i: number, byte: number): number {
  if (b[i] !== byte) fail();
  return i + 1;
}

function hex(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

function hex4(b: Uint8Array, i: number): number {
  const a = hex(b[i]);
  const c = hex(b[i + 1]);
  const d = hex(b[i + 2]);
  const e = hex(b[i + 3]);
  if (a < 0 || c < 0 || d < 0 || e < 0) return -1;
  return (a << 12) | (c << 8) | (d << 4) | e;
}

/** Length of the valid UTF-8 sequence at b[i] (a byte >= 0x80), or fails (Unicode's table 3-7). */
function utf8Length(b: Uint8Array, i: number): number {
  const c = b[i]!;
  const c1 = b[i + 1] ?? 0;
  const cont = (x: number | undefined) => x !== undefined && x >= 0x80 && x <= 0xbf;
  if (c >= 0xc2 && c <= 0xdf) return cont(c1) ? 2 : fail();
  if (c >= 0xe0 && c <= 0xef) {
    const ok = c === 0xe0 ? c1 >= 0xa0 && c1 <= 0xbf : c === 0xed ? c1 >= 0x80 && c1 <= 0x9f : cont(c1);
    return ok && cont(b[i + 2]) ? 3 : fail();
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const ok = c === 0xf0 ? c1 >= 0x90 && c1 <= 0xbf : c === 0xf4 ? c1 >= 0x80 && c1 <= 0x8f : cont(c1);
    return ok && cont(b[i + 2]) && cont(b[i + 3]) ? 4 : fail();
  }
  return fail();
}

/** Scans the JSON string literal at b[i]; returns the index after its closing quote. */
function scanString(b: Uint8Array, i: number): number {
  if (b[i] !== QUOTE) fail();
  i++;
  let esc = false;
  let wide = false;
  for (;;) {
    const c = b[i];
    if (c === undefined) fail();
    if (c === QUOTE) break;
    if (c === BACKSLASH) {
      esc = true;
      const e = b[i + 1];
      if (e === 0x75) {
        if (hex4(b, i + 2) < 0) fail();
        i += 6;
      } else if (e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
        i += 2;
      } else fail();
    } else if (c < 0x20) fail();
    else if (c < 0x80) i++;
    else {
      wide = true;
      i += utf8Length(b, i);
    }
  }
  escaped = esc;
  nonAscii = wide;
  return i + 1;
}

function writeCodePoint(out: Uint8Array, o: number, cp: number): number {
  if (cp < 0x80) out[o++] = cp;
  else if (cp < 0x800) {
    out[o++] = 0xc0 | (cp >> 6);
    out[o++] = 0x80 | (cp & 0x3f);
  } else if (cp < 0x10000) {
    out[o++] = 0xe0 | (cp >> 12);
    out[o++] = 0x80 | ((cp >> 6) & 0x3f);
    out[o++] = 0x80 | (cp & 0x3f);
  } else {
    out[o++] = 0xf0 | (cp >> 18);
    out[o++] = 0x80 | ((cp >> 12) & 0x3f);
    out[o++] = 0x80 | ((cp >> 6) & 0x3f);
    out[o++] = 0x80 | (cp & 0x3f);
  }
  return o;
}

/**
 * Writes the UTF-8 of the string whose literal's content is b[start, end) (scanned, so valid) to
 * out at o; returns the end. Fails on an escaped lone surrogate.
 */
function unescapeInto(b: Uint8Array, start: number, end: number, hasEscape: boolean, out: Uint8Array, o: number): number {
  if (!hasEscape) {
    out.set(b.subarray(start, end), o);
    return o + end - start;
  }
  let i = start;
  while (i < end) {
    const c = b[i]!;
    if (c !== BACKSLASH) {
      out[o++] = c;
      i++;
      continue;
    }
    const e = b[i + 1]!;
    if (e !== 0x75) {
      out[o++] = e === 0x62 ? 0x08 : e === 0x66 ? 0x0c : e === 0x6e ? 0x0a : e === 0x72 ? 0x0d : e === 0x74 ? 0x09 : e;
      i += 2;
      continue;
    }
    let cp = hex4(b, i + 2);
    i += 6;
    if (cp >= 0xd800 && cp <= 0xdbff && i < end && b[i] === BACKSLASH && b[i + 1] === 0x75) {
      const low = hex4(b, i + 2);
      if (low >= 0xdc00 && low <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        i += 6;
      }
    }
    // An escaped lone surrogate: the general path (lib/sync/protocol's checksum gives some of them
    // bytes that are not U+FFFD, and the text keeps them as they are).
    if (cp >= 0xd800 && cp <= 0xdfff) fail();
    o = writeCodePoint(out, o, cp);
  }
  return o;
}

/** Set by copyData: the CRC state after the data's bytes. */
let dataState = 0;

/**
 * The data string literal at b[i]: validated, unescaped into out at o, and the checksum state
 * continued over the bytes written, in one pass (a row's data is most of a line's bytes). Returns
 * the index after the closing quote; the end in out is `copied`.
 */
function copyData(b: Uint8Array, i: number, out: Uint8Array, o: number, state: number): number {
  if (b[i] !== QUOTE) fail();
  i++;
  const t = CRC_TABLE;
  let crc = state;
  for (;;) {
    const c = b[i];
    if (c === undefined) return fail();
    if (c === QUOTE) break;
    if (c >= 0x20 && c < 0x80 && c !== BACKSLASH) {
      out[o++] = c;
      crc = t[(crc ^ c) & 0xff]! ^ (crc >>> 8);
      i++;
      continue;
    }
    const from = o;
    if (c === BACKSLASH) {
      const e = b[i + 1];
      if (e === 0x75) {
        let cp = hex4(b, i + 2);
        if (cp < 0) fail();
        i += 6;
        if (cp >= 0xd800 && cp <= 0xdbff && b[i] === BACKSLASH && b[i + 1] === 0x75) {
          const low = hex4(b, i + 2);
          if (low >= 0xdc00 && low <= 0xdfff) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
            i += 6;
          }
        }
        if (cp >= 0xd800 && cp <= 0xdfff) fail();
        o = writeCodePoint(out, o, cp);
      } else {
        const x = e === QUOTE || e === BACKSLASH || e === 0x2f ? e : e === 0x62 ? 0x08 : e === 0x66 ? 0x0c : e === 0x6e ? 0x0a : e === 0x72 ? 0x0d : e === 0x74 ? 0x09 : fail();
        out[o++] = x;
        i += 2;
      }
    } else if (c < 0x20) fail();
    else {
      const n = utf8Length(b, i);
      for (let k = 0; k < n; k++) out[o++] = b[i + k]!;
      i += n;
    }
    for (let k = from; k < o; k++) crc = t[(crc ^ out[k]!) & 0xff]! ^ (crc >>> 8);
  }
  dataState = crc;
  copied = o;
  return i + 1;
}

/** Set by copyData: the end of what it wrote. */
let copied = 0;

/** out[o…] = b[start, end); returns the new end (a loop: these are a few bytes, and subarray allocates). */
function copyBytes(b: Uint8Array, start: number, end: number, out: Uint8Array, o: number): number {
  for (let j = start; j < end; j++) out[o++] = b[j]!;
  return o;
}

let scratch = new Uint8Array(256);

/** The string of a scanned literal's content b[start, end). */
function decodeString(b: Uint8Array, start: number, end: number, hasEscape: boolean, wide: boolean): string {
  if (!hasEscape) {
    if (!wide && end - start <= 128) return String.fromCharCode.apply(null, b.subarray(start, end) as unknown as number[]);
    return utf8.decode(b.subarray(start, end));
  }
  if (scratch.length < end - start) scratch = new Uint8Array(2 * (end - start));
  const n = unescapeInto(b, start, end, true, scratch, 0);
  return utf8.decode(scratch.subarray(0, n));
}

/** Continues a checksum over the decoded bytes of a scanned literal's content. */
function crcOfString(state: number, b: Uint8Array, start: number, end: number, hasEscape: boolean): number {
  if (!hasEscape) return crc32Bytes(state, b, start, end);
  if (scratch.length < end - start) scratch = new Uint8Array(2 * (end - start));
  const n = unescapeInto(b, start, end, true, scratch, 0);
  return crc32Bytes(state, scratch, 0, n);
}

/**
 * The index after the string literal at b[i], found by its closing quote only (a quote preceded
 * by an odd run of backslashes is escaped). The literal is validated later by copyData or
 * scanString, before anything is taken from the line.
 */
function skipStringFast(b: Uint8Array, i: number): number {
  if (b[i] !== QUOTE) fail();
  for (let j = b.indexOf(QUOTE, i + 1); j >= 0; j = b.indexOf(QUOTE, j + 1)) {
    let k = j - 1;
    while (b[k] === BACKSLASH) k--;
    if ((j - 1 - k) % 2 === 0) return j + 1;
  }
  return fail();
}

/** The checksum state of `${op}\n${table}\n${row_id}\n` from the op's prefix state. */
function rowState(prefix: number, b: Uint8Array, tStart: number, tEnd: number, tEscaped: boolean, rStart: number, rEnd: number, rEscaped: boolean): number {
  const state = crcOfString(prefix, b, tStart, tEnd, tEscaped);
  return crc32Newline(crcOfString(crc32Newline(state), b, rStart, rEnd, rEscaped));
}

function keyIndex(b: Uint8Array, start: number, end: number, keys: readonly Uint8Array[]): number {
  const n = end - start;
  outer: for (let k = 0; k < keys.length; k++) {
    const key = keys[k]!;
    if (key.length !== n) continue;
    for (let j = 0; j < n; j++) if (b[start + j] !== key[j]) continue outer;
    return k;
  }
  return fail();
}

function literal(b: Uint8Array, i: number, word: Uint8Array): boolean {
  for (let j = 0; j < word.length; j++) if (b[i + j] !== word[j]) return false;
  return true;
}

/** A string of digits as an op id (OP_ID_PATTERN, at most 15 digits so always a safe integer); returns the index after the literal. */
function scanOpId(b: Uint8Array, i: number): number {
  const end = scanString(b, i);
  const n = end - i - 2;
  if (escaped || n < 1 || n > 15 || (n > 1 && b[i + 1] === 0x30)) fail();
  for (let j = i + 1; j < end - 1; j++) if (b[j]! < 0x30 || b[j]! > 0x39) fail();
  return end;
}

function digits(b: Uint8Array, start: number, end: number): number {
  let v = 0;
  for (let j = start; j < end; j++) v = v * 10 + (b[j]! - 0x30);
  return v;
}

interface Segment {
  table: string;
  rowId: string;
  opId: string;
  start: number;
  end: number;
  dataStart: number;
  dataEnd: number;
  live: boolean;
}

function scanDataLine(b: Uint8Array): PreparedPage {
  let i = expect(b, skipSpace(b, 0), LBRACE);
  let seen = 0;
  let bucket = '';
  let after = 0;
  let nextAfter = 0;
  let ops: ScannedOps | undefined;
  i = skipSpace(b, i);
  if (b[i] !== RBRACE) {
    for (;;) {
      const keyStart = i;
      i = scanString(b, i);
      if (escaped) fail();
      const key = keyIndex(b, keyStart + 1, i - 1, LINE_KEYS);
      if (seen & (1 << key)) fail();
      seen |= 1 << key;
      i = expect(b, skipSpace(b, i), COLON);
      i = skipSpace(b, i);
      const v = i;
      switch (key) {
        case 0:
          i = scanString(b, i);
          if (escaped || i - v !== 6 || !literal(b, v + 1, DATA)) fail();
          break;
        case 1:
          i = scanString(b, i);
          bucket = decodeString(b, v + 1, i - 1, escaped, nonAscii);
          break;
        case 2:
          i = scanOpId(b, i);
          after = digits(b, v + 1, i - 1);
          break;
        case 3:
          i = scanOpId(b, i);
          nextAfter = digits(b, v + 1, i - 1);
          break;
        case 4:
          if (literal(b, i, TRUE)) i += 4;
          else if (literal(b, i, FALSE)) i += 5;
          else fail();
          break;
        default:
          ops = scanOps(b, i);
          i = ops.end;
      }
      i = skipSpace(b, i);
      if (b[i] === COMMA) {
        i = skipSpace(b, i + 1);
        continue;
      }
      i = expect(b, i, RBRACE);
      break;
    }
  } else i++;
  if (skipSpace(b, i) !== b.length || seen !== 0b111111 || !ops) fail();
  return ops.page(bucket, after, nextAfter);
}

interface ScannedOps {
  end: number;
  page(bucket: string, after: number, nextAfter: number): PreparedPage;
}

function scanOps(b: Uint8Array, i: number): ScannedOps {
  i = expect(b, i, LBRACKET);
  // The page's text, [[table, row id, op id, data], …], written as the ops are read: never longer
  // than the line (every op spends more bytes on its keys than the text spends on brackets).
  let out = new Uint8Array(b.length + 2);
  let o = 0;
  out[o++] = LBRACKET;
  const segments: Segment[] = [];
  let dead = 0;
  // The last op of each row: the index of its segment (a PUT) or -1 (a REMOVE).
  const latest = new Map<string, Map<string, number>>();
  let cleared = false;
  let checksum = 0;
  let corrupt = 0;
  let opCount = 0;
  // The table of the previous op, kept as a string while the next op's table has the same bytes.
  let tableStart = -1;
  let tableEnd = -1;
  let table = '';
  let tableRows: Map<string, number> | undefined;

  i = skipSpace(b, i);
  if (b[i] === RBRACKET) i++;
  else {
    for (;;) {
      i = expect(b, i, LBRACE);
      let seen = 0;
      let opIdStart = 0;
      let opIdEnd = 0;
      let kind = -1;
      let tStart = -1;
      let tEnd = -1;
      let tEscaped = false;
      let tWide = false;
      let rStart = -1;
      let rEnd = -1;
      let rEscaped = false;
      let rWide = false;
      let dStart = -1;
      let wire = 0;
      // The PUT's entry in the page text, once written: [start, end), its data [dataStart, dataEnd).
      let putStart = -1;
      let putEnd = 0;
      let dataStart = 0;
      let dataEnd = 0;
      let putState = 0;
      /** Writes the PUT's entry with its data literal at `at`; returns the index after the literal. */
      const writePut = (at: number): number => {
        putStart = o;
        out[o++] = LBRACKET;
        o = copyBytes(b, tStart - 1, tEnd + 1, out, o);
        out[o++] = COMMA;
        o = copyBytes(b, rStart - 1, rEnd + 1, out, o);
        out[o++] = COMMA;
        o = copyBytes(b, opIdStart, opIdEnd, out, o);
        out[o++] = COMMA;
        dataStart = o;
        const next = copyData(b, at, out, o, rowState(PUT_STATE, b, tStart, tEnd, tEscaped, rStart, rEnd, rEscaped));
        o = copied;
        putState = dataState;
        dataEnd = o;
        out[o++] = RBRACKET;
        out[o++] = COMMA;
        putEnd = o;
        return next;
      };
      i = skipSpace(b, i);
      for (;;) {
        const keyStart = i;
        i = scanString(b, i);
        if (escaped) fail();
        const key = keyIndex(b, keyStart + 1, i - 1, OP_KEYS);
        if (seen & (1 << key)) fail();
        seen |= 1 << key;
        i = skipSpace(b, expect(b, skipSpace(b, i), COLON));
        const v = i;
        switch (key) {
          case 0:
            i = scanOpId(b, i);
            opIdStart = v + 1;
            opIdEnd = i - 1;
            break;
          case 1:
            i = scanString(b, i);
            if (escaped) fail();
            kind = keyIndex(b, v + 1, i - 1, OP_NAMES);
            break;
          case 2:
          case 3:
          case 4:
            if (literal(b, i, NULL)) {
              // Null for MOVE and CLEAR; a PUT or REMOVE without table or row id, or a PUT without
              // data, goes to the general path (below).
              i += 4;
              break;
            }
            if (key === 4) {
              dStart = v;
              // A PUT whose op id, table and row id came first (the server's order): copied now, in
              // one pass; otherwise found now and copied once the op is complete.
              if (kind === 0 && tStart >= 0 && rStart >= 0 && opIdEnd > 0) i = writePut(v);
              else i = skipStringFast(b, i);
              break;
            }
            i = scanString(b, i);
            if (key === 2) {
              tStart = v + 1;
              tEnd = i - 1;
              tEscaped = escaped;
              tWide = nonAscii;
            } else {
              rStart = v + 1;
              rEnd = i - 1;
              rEscaped = escaped;
              rWide = nonAscii;
            }
            break;
          default: {
            let j = i;
            while (b[j] !== undefined && b[j]! >= 0x30 && b[j]! <= 0x39) j++;
            const n = j - i;
            if (n < 1 || n > 10 || (n > 1 && b[i] === 0x30)) fail();
            wire = digits(b, i, j);
            if (wire > 0xffff_ffff) fail();
            i = j;
          }
        }
        i = skipSpace(b, i);
        if (b[i] === COMMA) {
          i = skipSpace(b, i + 1);
          continue;
        }
        i = expect(b, i, RBRACE);
        break;
      }
      if (seen !== 0b111111) fail();
      opCount++;
      // MOVE and CLEAR: their data, if any, must still be a valid string.
      if (kind >= 2 && dStart >= 0) scanString(b, dStart);
      if (kind === 2) checksum = addChecksums(checksum, wire);
      else if (kind === 3) {
        cleared = true;
        latest.clear();
        tableRows = undefined;
        for (const s of segments) {
          if (!s.live) continue;
          s.live = false;
          dead++;
        }
        checksum = wire;
      } else {
        if (tStart < 0 || rStart < 0 || (kind === 0 && dStart < 0)) fail();
        // The row's table and id as strings (the same table as the previous op is not decoded again).
        if (tableRows === undefined || tEnd - tStart !== tableEnd - tableStart || !sameBytes(b, tStart, tableStart, tEnd - tStart)) {
          table = decodeString(b, tStart, tEnd, tEscaped, tWide);
          tableStart = tStart;
          tableEnd = tEnd;
          tableRows = latest.get(table);
          if (!tableRows) latest.set(table, (tableRows = new Map()));
        }
        const rowId = decodeString(b, rStart, rEnd, rEscaped, rWide);
        let state: number;
        const previous = tableRows.get(rowId);
        if (previous !== undefined && previous >= 0) {
          segments[previous]!.live = false;
          dead++;
        }
        if (kind === 0) {
          if (putStart < 0) writePut(dStart);
          state = putState;
          // Map order is first insertion: a row's later op keeps the row's place, as in preparePage.
          tableRows.set(rowId, segments.length);
          segments.push({ table, rowId, opId: String(digits(b, opIdStart, opIdEnd)), start: putStart, end: putEnd, dataStart, dataEnd, live: true });
        } else {
          // A REMOVE's data is not part of its checksum, but must still be a valid string.
          if (dStart >= 0) scanString(b, dStart);
          state = rowState(REMOVE_STATE, b, tStart, tEnd, tEscaped, rStart, rEnd, rEscaped);
          tableRows.set(rowId, -1);
        }
        const local = ~state >>> 0;
        if (local !== wire) corrupt++;
        checksum = addChecksums(checksum, local);
      }
      i = skipSpace(b, i);
      if (b[i] === COMMA) {
        i = skipSpace(b, i + 1);
        continue;
      }
      i = expect(b, i, RBRACKET);
      break;
    }
  }

  // The PUTs in preparePage's order: by table, each row where it first appeared.
  const order: Segment[] = [];
  const removes: Array<[string, string]> = [];
  const tables = new Set<string>();
  for (const [t, rows] of latest) {
    if (rows.size > 0) tables.add(t);
    for (const [rowId, index] of rows) {
      if (index >= 0) order.push(segments[index]!);
      else removes.push([t, rowId]);
    }
  }
  let inOrder = dead === 0;
  for (let k = 0; inOrder && k < order.length; k++) if (order[k] !== segments[k]) inOrder = false;
  if (!inOrder) {
    // Rare (a row twice in a page, a CLEAR, rows of tables interleaved): the live rows are copied.
    const compact = new Uint8Array(o + 1);
    let c = 0;
    compact[c++] = LBRACKET;
    for (const s of order) {
      compact.set(out.subarray(s.start, s.end), c);
      const shift = c - s.start;
      s.start += shift;
      s.end += shift;
      s.dataStart += shift;
      s.dataEnd += shift;
      c = s.end;
    }
    out = compact;
    o = c;
  }
  if (order.length === 0) out[o++] = RBRACKET;
  else out[o - 1] = RBRACKET;
  const puts = out.slice(0, o);
  return {
    end: i,
    page: (bucket, after, nextAfter) => ({
      bucket,
      after,
      nextAfter,
      cleared,
      checksum,
      puts,
      repairedPuts() {
        let invalid = 0;
        const parts: string[] = ['['];
        for (let k = 0; k < order.length; k++) {
          const s = order[k]!;
          let data = utf8.decode(puts.subarray(s.dataStart, s.dataEnd));
          if (!isJson(data)) {
            invalid++;
            data = JSON.stringify(data);
          }
          parts.push(k === 0 ? '[' : ',[', JSON.stringify(s.table), ',', JSON.stringify(s.rowId), ',', s.opId, ',', data, ']');
        }
        parts.push(']');
        return { puts: parts.join(''), invalid };
      },
      putKeys: () => JSON.stringify(order.map((s) => [s.table, s.rowId])),
      putCount: order.length,
      removes: JSON.stringify(removes),
      removeCount: removes.length,
      opCount,
      tables,
      corrupt,
      invalidData: 0,
    }),
  };
}

function sameBytes(b: Uint8Array, x: number, y: number, n: number): boolean {
  for (let j = 0; j < n; j++) if (b[x + j] !== b[y + j]) return false;
  return true;
}
