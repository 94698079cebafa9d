import { describe, expect, it } from 'vitest';
import { lsnAt, PgoutputDecoder, type PgoutputHandler, type PgoutputRelation, type TextRow } from './pgoutput';

/** Builds pgoutput messages byte by byte, as the server sends them. */
class Message {
  private readonly parts: Buffer[] = [];
  byte(value: number): this {
    this.parts.push(Buffer.from([value]));
    return this;
  }
  char(value: string): this {
    return this.byte(value.charCodeAt(0));
  }
  int16(value: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(value);
    this.parts.push(b);
    return this;
  }
  int32(value: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(value);
    this.parts.push(b);
    return this;
  }
  int64(value: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(value);
    this.parts.push(b);
    return this;
  }
  cstring(value: string): this {
    this.parts.push(Buffer.from(value, 'utf8'), Buffer.from([0]));
    return this;
  }
  /** Tuple data: a string is a text value, null a NULL, undefined an unchanged TOAST value. */
  tuple(values: Array<string | null | undefined>): this {
    this.int16(values.length);
    for (const value of values) {
      if (value === null) this.char('n');
      else if (value === undefined) this.char('u');
      else {
        const bytes = Buffer.from(value, 'utf8');
        this.char('t').int32(bytes.length);
        this.parts.push(bytes);
      }
    }
    return this;
  }
  /** Framed as the XLogData payload is: behind a 25-byte header, with bytes after it that are not the message's. */
  framed(): { buf: Buffer; start: number; end: number } {
    const body = Buffer.concat(this.parts);
    return { buf: Buffer.concat([Buffer.alloc(25, 0xee), body, Buffer.from([0xff, 0xff])]), start: 25, end: 25 + body.length };
  }
}

type Event = [string, ...unknown[]];

function recorder(): { handler: PgoutputHandler; events: Event[] } {
  const events: Event[] = [];
  const name = (r: PgoutputRelation) => `${r.schema}.${r.name}`;
  return {
    events,
    handler: {
      begin: (time) => events.push(['begin', time]),
      commit: (lsn, time) => events.push(['commit', lsn, time]),
      relation: (r, previous) => events.push(['relation', r, previous ? name(previous) : undefined]),
      insert: (r, row) => events.push(['insert', name(r), row]),
      update: (r, old, row) => events.push(['update', name(r), old, row]),
      delete: (r, old) => events.push(['delete', name(r), old]),
      truncate: (rs) => events.push(['truncate', rs.map(name)]),
    },
  };
}

const decode = (decoder: PgoutputDecoder, handler: PgoutputHandler, m: Message) => {
  const { buf, start, end } = m.framed();
  decoder.decode(buf, start, end, handler);
};

/** todos(id uuid key, title text, done bool), relation oid 16400. */
function todosRelation(oid = 16400, columns: Array<[string, number, boolean]> = [['id', 2950, true], ['title', 25, false], ['done', 16, false]]): Message {
  const m = new Message().char('R').int32(oid).cstring('public').cstring('todos').char('d').int16(columns.length);
  for (const [name, type, key] of columns) m.byte(key ? 1 : 0).cstring(name).int32(type).int32(-1);
  return m;
}

describe('PgoutputDecoder', () => {
  it('decodes a transaction: begin, relation, insert, update, delete, commit', () => {
    const decoder = new PgoutputDecoder();
    const { handler, events } = recorder();
    // 2026-01-01T00:00:00.123456Z in microseconds since 2000-01-01.
    const micros = BigInt(Date.UTC(2026, 0, 1) - Date.UTC(2000, 0, 1)) * 1000n + 123_456n;
    decode(decoder, handler, new Message().char('B').int64(0x1_6b37_4d48n).int64(micros).int32(731));
    decode(decoder, handler, todosRelation());
    decode(decoder, handler, new Message().char('I').int32(16400).char('N').tuple(['a1', 'Füße ✓ 😀', 'f']));
    decode(decoder, handler, new Message().char('U').int32(16400).char('N').tuple(['a1', null, 't']));
    decode(decoder, handler, new Message().char('U').int32(16400).char('K').tuple(['a1', null, null]).char('N').tuple(['b2', undefined, 't']));
    decode(decoder, handler, new Message().char('D').int32(16400).char('K').tuple(['b2', null, null]));
    decode(decoder, handler, new Message().char('C').byte(0).int64(0x1_6b37_4d48n).int64(0x16_b374_d8a0n).int64(micros));

    const time = Date.UTC(2026, 0, 1) + 123;
    expect(events[0]).toEqual(['begin', time]);
    const relation = events[1]![1] as PgoutputRelation;
    expect(relation).toEqual({
      oid: 16400,
      schema: 'public',
      name: 'todos',
      columns: [
        { name: 'id', typeOid: 2950, isKey: true },
        { name: 'title', typeOid: 25, isKey: false },
        { name: 'done', typeOid: 16, isKey: false },
      ],
    });
    expect(events.slice(2)).toEqual([
      ['insert', 'public.todos', { id: 'a1', title: 'Füße ✓ 😀', done: 'f' }],
      ['update', 'public.todos', null, { id: 'a1', title: null, done: 't' }],
      // A key tuple keeps only the key columns; an unchanged TOAST value stays undefined.
      ['update', 'public.todos', { id: 'a1' }, { id: 'b2', title: undefined, done: 't' }],
      ['delete', 'public.todos', { id: 'b2' }],
      ['commit', '16/B374D8A0', time],
    ]);
    // Rows are plain objects with the relation's column order (one shape per table).
    const row = events[2]![2] as TextRow;
    expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
    expect(Object.keys(row)).toEqual(['id', 'title', 'done']);
  });

  it('fills unchanged TOAST values of a REPLICA IDENTITY FULL update from the old row, and decodes old rows of deletes', () => {
    const decoder = new PgoutputDecoder();
    const { handler, events } = recorder();
    decode(decoder, handler, todosRelation());
    decode(decoder, handler, new Message().char('U').int32(16400).char('O').tuple(['a1', 'long text', 'f']).char('N').tuple(['a1', undefined, 't']));
    decode(decoder, handler, new Message().char('D').int32(16400).char('O').tuple(['a1', 'long text', 't']));
    expect(events.slice(1)).toEqual([
      ['update', 'public.todos', { id: 'a1', title: 'long text', done: 'f' }, { id: 'a1', title: 'long text', done: 't' }],
      ['delete', 'public.todos', { id: 'a1', title: 'long text', done: 't' }],
    ]);
  });

  it('passes the previous relation when a relation message repeats (a column added), and decodes TRUNCATE', () => {
    const decoder = new PgoutputDecoder();
    const { handler, events } = recorder();
    decode(decoder, handler, todosRelation());
    decode(decoder, handler, todosRelation(16400, [['id', 2950, true], ['title', 25, false], ['done', 16, false], ['note', 25, false]]));
    decode(decoder, handler, new Message().char('I').int32(16400).char('N').tuple(['a1', 'x', 'f', 'n']));
    decode(decoder, handler, todosRelation(16401));
    decode(decoder, handler, new Message().char('T').int32(2).byte(0).int32(16400).int32(16401));
    expect(events[1]![2]).toBe('public.todos');
    expect(events[2]).toEqual(['insert', 'public.todos', { id: 'a1', title: 'x', done: 'f', note: 'n' }]);
    expect(events[4]).toEqual(['truncate', ['public.todos', 'public.todos']]);
  });

  it('ignores type, origin and logical messages', () => {
    const decoder = new PgoutputDecoder();
    const { handler, events } = recorder();
    decode(decoder, handler, new Message().char('Y').int32(90001).cstring('public').cstring('mood'));
    decode(decoder, handler, new Message().char('O').int64(5n).cstring('origin'));
    expect(events).toEqual([]);
  });

  it('refuses what it cannot decode with PGOUTPUT_INVALID, never a partial row', () => {
    const decoder = new PgoutputDecoder();
    const { handler, events } = recorder();
    const refuses = (m: Message, text: RegExp) => expect(() => decode(decoder, handler, m)).toThrow(expect.objectContaining({ code: 'PGOUTPUT_INVALID', message: expect.stringMatching(text) }));
    refuses(new Message().char('I').int32(16400).char('N').tuple(['a1']), /before its relation message/);
    decode(decoder, handler, todosRelation());
    refuses(new Message().char('Z'), /unknown message type "Z"/);
    refuses(new Message().char('C').byte(0).int32(1), /truncated message/);
    // A value whose length runs past the message's end (the framing's trailing bytes are not read).
    const cut = new Message().char('I').int32(16400).char('N').int16(1).char('t').int32(5).char('a');
    refuses(cut, /truncated value/);
    refuses(new Message().char('I').int32(16400).char('N').int16(1).char('b').int32(1).byte(1), /binary mode/);
    refuses(new Message().char('I').int32(16400).char('N').tuple(['a', 'b', 'c', 'd']), /4 columns/);
    refuses(new Message().char('U').int32(16400).char('X'), /without a new tuple/);
    expect(events.filter((e) => e[0] !== 'relation')).toEqual([]);
  });

  it('formats LSNs as Postgres does', () => {
    const buf = Buffer.alloc(8);
    buf.writeBigUInt64BE(0xab_0000_0010n);
    expect(lsnAt(buf, 0)).toBe('AB/10');
  });
});
