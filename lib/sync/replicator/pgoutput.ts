import { ReplicationError } from './errors';
import type { Lsn } from './lsn';
import { utf8Text } from './utf8-text';

/**
 * A decoder of pgoutput (protocol version 1) messages, the payload of XLogData, written for the
 * replicator's hot path: values stay Postgres text, each row is a plain object with its columns
 * in the relation's order (so every row of a table shares one V8 shape), and messages go straight
 * to a handler's methods instead of becoming objects of their own.
 * Message formats: https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html
 */

/** A source row in Postgres text format; undefined marks an unchanged TOAST value. */
export type TextRow = Record<string, string | null | undefined>;

export interface PgoutputColumn {
  name: string;
  typeOid: number;
  /** Part of the replica identity (the key that UPDATE and DELETE send for the old row). */
  isKey: boolean;
}

export interface PgoutputRelation {
  oid: number;
  schema: string;
  name: string;
  columns: PgoutputColumn[];
}

/** What the decoder calls for each message, synchronously and in stream order. */
export interface PgoutputHandler {
  begin(commitTimeMs: number): void;
  /** `endLsn`: the end of the commit record, the position to confirm once the transaction is stored. */
  commit(endLsn: Lsn, commitTimeMs: number): void;
  relation(relation: PgoutputRelation, previous: PgoutputRelation | undefined): void;
  insert(relation: PgoutputRelation, row: TextRow): void;
  /** `old`: the old key (only its key columns; when the key changed) or the whole old row (REPLICA IDENTITY FULL). */
  update(relation: PgoutputRelation, old: TextRow | null, row: TextRow): void;
  delete(relation: PgoutputRelation, old: TextRow): void;
  truncate(relations: PgoutputRelation[]): void;
}

/** Microseconds from the Unix epoch to Postgres' (2000-01-01). */
const POSTGRES_EPOCH_MS = 946_684_800_000;


function protocolError(message: string): ReplicationError {
  return new ReplicationError('PGOUTPUT_INVALID', `Could not decode a pgoutput message: ${message}. The replicator expects pgoutput protocol version 1 in text format.`);
}

export class PgoutputDecoder {
  private readonly relations = new Map<number, PgoutputRelation>();
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private end = 0;

  /** Decodes the message in buf[start, end) and hands it to `handler`. */
  decode(buf: Buffer, start: number, end: number, handler: PgoutputHandler): void {
    this.buf = buf;
    this.pos = start + 1;
    this.end = end;
    if (end <= start) throw protocolError('empty message');
    switch (buf[start]) {
      case 0x42: // B: final LSN, commit time, xid
        this.need(20);
        handler.begin(this.timeAt(this.pos + 8));
        return;
      case 0x43: // C: flags, commit LSN, end LSN, commit time
        this.need(25);
        handler.commit(lsnAt(buf, this.pos + 9), this.timeAt(this.pos + 17));
        return;
      case 0x52: // R
        this.relation(handler);
        return;
      case 0x49: {
        // I: relation, 'N', tuple
        const relation = this.relationAt();
        this.expect(0x4e);
        handler.insert(relation, this.tuple(relation, null));
        return;
      }
      case 0x55: {
        // U: relation, optional 'K' key or 'O' old tuple, 'N' new tuple
        const relation = this.relationAt();
        let old: TextRow | null = null;
        let full = false;
        let kind = this.byte();
        if (kind === 0x4b) {
          old = this.keyOf(relation, this.tuple(relation, null));
          kind = this.byte();
        } else if (kind === 0x4f) {
          old = this.tuple(relation, null);
          full = true;
          kind = this.byte();
        }
        if (kind !== 0x4e) throw protocolError(`update of ${relation.name} without a new tuple`);
        handler.update(relation, old, this.tuple(relation, full ? old : null));
        return;
      }
      case 0x44: {
        // D: relation, 'K' key or 'O' old tuple
        const relation = this.relationAt();
        const kind = this.byte();
        if (kind === 0x4b) handler.delete(relation, this.keyOf(relation, this.tuple(relation, null)));
        else if (kind === 0x4f) handler.delete(relation, this.tuple(relation, null));
        else throw protocolError(`delete of ${relation.name} without a key`);
        return;
      }
      case 0x54: {
        // T: relation count, options, relation oids
        const count = this.int32();
        this.byte();
        const truncated: PgoutputRelation[] = [];
        for (let i = 0; i < count; i++) truncated.push(this.relationAt());
        handler.truncate(truncated);
        return;
      }
      case 0x59: // Y: a type's name (values stay text: nothing to do)
      case 0x4f: // O: origin
      case 0x4d: // M: logical decoding message (not requested)
        return;
      default:
        throw protocolError(`unknown message type ${JSON.stringify(String.fromCharCode(buf[start]!))}`);
    }
  }

  private relation(handler: PgoutputHandler): void {
    const oid = this.int32();
    const schema = this.cstring();
    const name = this.cstring();
    this.byte(); // replica identity setting: the key columns' flags say what is sent
    const count = this.int16();
    const columns: PgoutputColumn[] = [];
    for (let i = 0; i < count; i++) {
      const flags = this.byte();
      const columnName = this.cstring();
      const typeOid = this.int32() >>> 0;
      this.int32(); // type modifier
      columns.push({ name: columnName, typeOid, isKey: (flags & 1) === 1 });
    }
    const relation: PgoutputRelation = { oid, schema, name, columns };
    const previous = this.relations.get(oid);
    this.relations.set(oid, relation);
    handler.relation(relation, previous);
  }

  private relationAt(): PgoutputRelation {
    const oid = this.int32();
    const relation = this.relations.get(oid);
    if (!relation) throw protocolError(`a change to relation ${oid} before its relation message`);
    return relation;
  }

  /**
   * A tuple as a plain object in column order. An unchanged TOAST value is undefined, or taken
   * from `old` (a whole old row, with REPLICA IDENTITY FULL) when it has it.
   */
  private tuple(relation: PgoutputRelation, old: TextRow | null): TextRow {
    const { buf, end } = this;
    const count = this.int16();
    const columns = relation.columns;
    if (count > columns.length) throw protocolError(`a tuple of ${relation.name} with ${count} columns, more than its relation's ${columns.length}`);
    const row: TextRow = {};
    let pos = this.pos;
    for (let i = 0; i < count; i++) {
      const name = columns[i]!.name;
      if (pos >= end) throw protocolError('truncated tuple');
      const kind = buf[pos++];
      if (kind === 0x74) {
        // t: length, text
        if (pos + 4 > end) throw protocolError('truncated tuple');
        const length = buf.readInt32BE(pos);
        pos += 4;
        const stop = pos + length;
        if (length < 0 || stop > end) throw protocolError('truncated value');
        row[name] = utf8Text(buf, pos, stop);
        pos = stop;
      } else if (kind === 0x6e) {
        row[name] = null;
      } else if (kind === 0x75) {
        row[name] = old ? old[name] : undefined;
      } else {
        throw protocolError(`value kind ${JSON.stringify(String.fromCharCode(kind ?? 0))} in ${relation.name} (binary mode is not used)`);
      }
    }
    this.pos = pos;
    return row;
  }

  /** A 'K' tuple holds the key columns' values and nulls for the others: keep the key columns. */
  private keyOf(relation: PgoutputRelation, tuple: TextRow): TextRow {
    const key: TextRow = {};
    for (const column of relation.columns) if (column.isKey) key[column.name] = tuple[column.name] ?? undefined;
    return key;
  }

  private need(bytes: number): void {
    if (this.pos + bytes > this.end) throw protocolError('truncated message');
  }

  private byte(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  private expect(byte: number): void {
    const got = this.byte();
    if (got !== byte) throw protocolError(`expected ${String.fromCharCode(byte)}, got ${String.fromCharCode(got)}`);
  }

  private int16(): number {
    this.need(2);
    const value = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return value;
  }

  private int32(): number {
    this.need(4);
    const value = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return value;
  }

  private cstring(): string {
    const zero = this.buf.indexOf(0, this.pos);
    if (zero < 0 || zero >= this.end) throw protocolError('unterminated string');
    const value = utf8Text(this.buf, this.pos, zero);
    this.pos = zero + 1;
    return value;
  }

  /** A Postgres timestamp (microseconds since 2000-01-01) as milliseconds since the Unix epoch. */
  private timeAt(at: number): number {
    const micros = this.buf.readUInt32BE(at) * 4_294_967_296 + this.buf.readUInt32BE(at + 4);
    return Math.floor(micros / 1000) + POSTGRES_EPOCH_MS;
  }
}

/** The LSN at buf[at, at + 8) in Postgres' text form ("16/B374D848"). */
export function lsnAt(buf: Buffer, at: number): Lsn {
  return `${buf.readUInt32BE(at).toString(16).toUpperCase()}/${buf.readUInt32BE(at + 4).toString(16).toUpperCase()}`;
}
