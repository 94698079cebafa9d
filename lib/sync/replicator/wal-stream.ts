import pg from 'pg';
import { compareLsn, lsnToBigInt, maxLsn, type Lsn } from './lsn';
import { lsnAt, PgoutputDecoder, type PgoutputHandler } from './pgoutput';

/**
 * One pgoutput stream from a replication slot, on a replication connection of its own. Values
 * arrive as Postgres text (the evaluator's input format). Each message is decoded and handed to
 * `handler` synchronously as its bytes arrive: no promise or queue per message, so a burst of WAL
 * costs a loop over its messages. Backpressure is the caller's: pause() stops reading from the
 * server, resume() goes on.
 *
 * Nothing is acknowledged automatically: `confirm(lsn)` is called by the replicator once bucket
 * storage has committed everything up to that LSN, and only that position is ever reported.
 */
export interface WalStreamOptions {
  client: pg.ClientConfig;
  slot: string;
  publication: string;
  /** Resume position; the server starts from the slot's confirmed position when this is behind it. */
  startLsn: Lsn;
  handler: PgoutputHandler;
  /** True when every received transaction has been committed to storage (so idle WAL may be confirmed). */
  isIdle: () => boolean;
}

/** The replication protocol's CopyData messages: https://www.postgresql.org/docs/current/protocol-replication.html */
const XLOG_DATA = 0x77; // w: start LSN, end LSN, send time, then the pgoutput message
const KEEPALIVE = 0x6b; // k: server WAL end, send time, reply requested
const XLOG_DATA_HEADER = 25;
const POSTGRES_EPOCH_MS = 946_684_800_000;

/** What node-postgres keeps internal: the connection's CopyData events and its socket. */
interface ReplicationConnection {
  on(event: 'copyData', listener: (message: { chunk: Buffer }) => void): void;
  once(event: 'replicationStart', listener: () => void): void;
  sendCopyFromChunk(chunk: Buffer): void;
  stream: { pause(): void; resume(): void };
}

export class WalStream {
  private readonly decoder = new PgoutputDecoder();
  private client: pg.Client | undefined;
  private connection: ReplicationConnection | undefined;
  private confirmed: Lsn;
  private lastServerLsn: Lsn;
  private timer: NodeJS.Timeout | undefined;
  private streaming = false;
  private stopped = false;
  private paused = false;
  /** A message could not be handled: every later one is dropped (the transaction must not complete). */
  private broken = false;

  constructor(private readonly options: WalStreamOptions) {
    this.confirmed = options.startLsn;
    this.lastServerLsn = options.startLsn;
  }

  /** Streams until stopped (then it resolves) or the connection fails or a handler throws (then it rejects). */
  async run(): Promise<void> {
    const { slot, publication, startLsn } = this.options;
    const client = new pg.Client({ ...this.options.client, replication: 'database' } as pg.ClientConfig);
    this.client = client;
    let fail: (error: unknown) => void = () => undefined;
    const failed = new Promise<never>((_, reject) => (fail = reject));
    failed.catch(() => undefined); // observed by the race below; an error before it is not unhandled
    client.on('error', (error: Error) => fail(error));
    try {
      await client.connect();
      if (this.stopped) return;
      const connection = (client as unknown as { connection: ReplicationConnection }).connection;
      this.connection = connection;
      connection.once('replicationStart', () => (this.streaming = !this.stopped));
      connection.on('copyData', ({ chunk }) => {
        try {
          this.onCopyData(chunk);
        } catch (error) {
          // A message the decoder or the replicator refused: nothing after it may be applied
          // (the rest of the chunk still arrives), so the stream stops reading here.
          this.broken = true;
          this.streaming = false;
          fail(error);
        }
      });
      // Report progress four times a second; when idle, also ask for a keepalive, so the confirmed
      // position follows the server's WAL end (tests and write checkpoints wait on it).
      this.timer = setInterval(() => this.sendStatus(this.isIdle()), 250);
      const options = [`proto_version '1'`, `publication_names '${publication.replaceAll("'", "''")}'`];
      const started = client.query(`START_REPLICATION SLOT "${slot.replaceAll('"', '""')}" LOGICAL ${startLsn} (${options.join(', ')})`);
      await Promise.race([started, failed]);
    } catch (error) {
      // stop() ends the connection, which ends START_REPLICATION with an error: that is no failure.
      if (!this.stopped) throw error;
    } finally {
      this.streaming = false;
      clearInterval(this.timer);
      await client.end().catch(() => undefined);
    }
  }

  /** Stops reading from the server (the socket's buffer fills, then the server's send buffer). */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.connection?.stream.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.connection?.stream.resume();
  }

  /** Everything up to `lsn` is committed to bucket storage: the slot may release that WAL. */
  confirm(lsn: Lsn): void {
    if (compareLsn(lsn, this.confirmed) > 0) this.confirmed = lsn;
  }

  get confirmedLsn(): Lsn {
    return this.confirmed;
  }

  /** The furthest WAL position the server has reported (keepalives). */
  get serverLsn(): Lsn {
    return this.lastServerLsn;
  }

  /**
   * Nothing received is unprocessed: messages are handled as they arrive, in order (so a
   * keepalive position is only seen once the data before it has been handled), and the
   * replicator has committed every transaction it was handed.
   */
  isIdle(): boolean {
    return this.options.isIdle();
  }

  /** Asks the server for a keepalive now, so serverLsn moves without waiting for its timer. */
  ping(): void {
    this.sendStandbyStatus(this.confirmed, true);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.streaming = false;
    clearInterval(this.timer);
    await this.client?.end().catch(() => undefined);
  }

  private onCopyData(chunk: Buffer): void {
    if (this.stopped || this.broken) return;
    if (chunk[0] === XLOG_DATA) {
      this.decoder.decode(chunk, XLOG_DATA_HEADER, chunk.length, this.options.handler);
    } else if (chunk[0] === KEEPALIVE) {
      this.lastServerLsn = maxLsn(this.lastServerLsn, lsnAt(chunk, 1));
      if (chunk[17] === 1) this.sendStatus(false);
    }
  }

  private sendStatus(requestReply: boolean): void {
    // With nothing in flight, WAL the server has moved past holds nothing for us (other tables,
    // other databases): confirm it too, or the slot would retain it for ever.
    const position = this.isIdle() ? maxLsn(this.confirmed, this.lastServerLsn) : this.confirmed;
    this.sendStandbyStatus(position, requestReply);
  }

  /**
   * A standby status update: written, flushed and applied up to `lsn` (as the byte after it,
   * which is how the slot's confirmed position has always been reported here).
   */
  private sendStandbyStatus(lsn: Lsn, requestReply: boolean): void {
    if (!this.streaming || !this.connection) return;
    const next = BigInt.asUintN(64, lsnToBigInt(lsn) + 1n);
    const message = Buffer.alloc(34);
    message[0] = 0x72; // r
    message.writeBigUInt64BE(next, 1);
    message.writeBigUInt64BE(next, 9);
    message.writeBigUInt64BE(next, 17);
    message.writeBigInt64BE(BigInt(Date.now() - POSTGRES_EPOCH_MS) * 1000n, 25);
    message[33] = requestReply ? 1 : 0;
    try {
      this.connection.sendCopyFromChunk(message);
    } catch {
      // The connection is going away; run() reports it.
    }
  }
}
