import { invalidText, quote, quoteInner, type Codec } from './codec';

/**
 * Arrays, e.g. `{1,2,NULL}`, `{"a b","c\"d"}`, `{{1,2},{3,4}}`: the wire value is a JSON string
 * holding a JSON array (nested for several dimensions) of the elements' wire values; json
 * elements are embedded as JSON. Explicit bounds (`[0:1]={...}`) are dropped.
 */
export function arrayCodec(element: Codec): Codec {
  const elementJson = element.wire === 'json' ? (text: string) => text : (text: string) => element.json(text);
  return {
    wire: 'array',
    sqliteType: 'TEXT',
    compareKind: undefined,
    plainKeys: false,
    json: (text) => quote(pgArrayToJson(text, elementJson)),
    quoted: true,
    inner: (text) => quoteInner(pgArrayToJson(text, elementJson)),
    key: (text) => pgArrayToJson(text, elementJson),
    keyOfValue: () => undefined,
  };
}

/** Converts Postgres array text to JSON array text, mapping each non-null element with `elementJson`. */
export function pgArrayToJson(text: string, elementJson: (element: string) => string): string {
  let i = 0;
  if (text.charCodeAt(0) === 91 /* [ */) {
    i = text.indexOf('=') + 1;
    if (i === 0) invalidText('an array', text);
  }
  const out: string[] = [];
  const parseArray = (): void => {
    if (text[i] !== '{') invalidText('an array', text);
    i++;
    out.push('[');
    if (text[i] === '}') {
      i++;
      out.push(']');
      return;
    }
    for (;;) {
      if (text[i] === '{') parseArray();
      else if (text[i] === '"') out.push(elementJson(readQuoted()));
      else {
        const start = i;
        while (i < text.length && text[i] !== ',' && text[i] !== '}') i++;
        const raw = text.slice(start, i).trim();
        if (raw === '') invalidText('an array', text);
        out.push(raw.toUpperCase() === 'NULL' ? 'null' : elementJson(raw));
      }
      if (text[i] === ',') {
        i++;
        out.push(',');
      } else if (text[i] === '}') {
        i++;
        out.push(']');
        return;
      } else invalidText('an array', text);
    }
  };
  const readQuoted = (): string => {
    i++;
    let value = '';
    for (;;) {
      const c = text[i++];
      if (c === undefined) return invalidText('an array', text);
      if (c === '"') return value;
      if (c === '\\') {
        const next = text[i++];
        if (next === undefined) return invalidText('an array', text);
        value += next;
      } else value += c;
    }
  };
  parseArray();
  if (i !== text.length) invalidText('an array', text);
  return out.join('');
}
