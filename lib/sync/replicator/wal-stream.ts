import type pg from 'pg';
import { LogicalReplicationService, PgoutputPlugin, type Pgoutput } from 'pg-logical-replication';
import { compareLsn, maxLsn, type Lsn } from './lsn';

/**
 * One pgoutput stream from a replication slot. Values arrive as Postgres text (the evaluator's
 * input format), not parsed by node-postgres' type parsers. Nothing is acknowledged
 * automatically: `confirm(lsn)` is called by the replicator once bucket storage has committed
 * everything up to that LSN, and only that position is ever reported to the server.
 */
export interface WalStreamOptions {
  client: pg.ClientConfig;
  slot: string;
  publication: string;
  /** Resume position; the server starts from the slot's confirmed position when this is behind it. */
  startLsn: Lsn;
  onMessage: (lsn: Lsn, message: Pgoutput.Message) => Promise<void>;
  /** True when every received transaction has been committed to storage (so idle WAL may be confirmed). */
  isIdle: () => boolean;
}

const identity = (value: unknown) => value;

export class WalStream {
  private readonly service: LogicalReplicationService;
  private confirmed: Lsn;
  private lastServerLsn: Lsn;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: WalStreamOptions) {
    this.confirmed = options.startLsn;
    this.lastServerLsn = options.startLsn;
    this.service = new LogicalReplicationService(
      options.client,
      { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } },
    );
    this.service.on('data', (lsn: string, message: Pgoutput.Message) => options.onMessage(lsn, message));
    this.service.on('heartbeat', (lsn: string, _ts: number, shouldRespond: boolean) => {
      this.lastServerLsn = maxLsn(this.lastServerLsn, lsn);
      if (shouldRespond) void this.sendStatus(false);
    });
  }

  /** Streams until stopped or the connection fails (then it rejects). */
  async run(): Promise<void> {
    const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [this.options.publication] });
    keepValuesAsText(plugin);
    const failed = new Promise<never>((_, reject) => this.service.once('error', reject));
    // Report progress four times a second; when idle, also ask for a keepalive, so the confirmed position
    // follows the server's WAL end (tests and write checkpoints wait on it).
    this.timer = setInterval(() => void this.sendStatus(this.isIdle()), 250);
    try {
      await Promise.race([this.service.subscribe(plugin, this.options.slot, this.options.startLsn), failed]);
    } finally {
      clearInterval(this.timer);
    }
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
   * Nothing received is unprocessed: the library's flow-control queue is empty (keepalives bypass
   * it, so a keepalive position is only trustworthy once the data before it has been handled) and
   * the replicator has committed every transaction it was handed.
   */
  isIdle(): boolean {
    const queue = this.service as unknown as { _messageQueue?: unknown[]; _processing?: boolean };
    return (queue._messageQueue?.length ?? 0) === 0 && !queue._processing && this.options.isIdle();
  }

  /** Asks the server for a keepalive now, so serverLsn moves without waiting for its timer. */
  ping(): void {
    if (this.service.isStop()) return;
    this.service.acknowledge(this.confirmed, true).catch(() => undefined);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.service.stop();
  }

  private async sendStatus(requestReply: boolean): Promise<void> {
    if (this.service.isStop()) return;
    // With nothing in flight, WAL the server has moved past holds nothing for us (other tables,
    // other databases): confirm it too, or the slot would retain it for ever.
    const position = this.isIdle() ? maxLsn(this.confirmed, this.lastServerLsn) : this.confirmed;
    try {
      await this.service.acknowledge(position, requestReply);
    } catch {
      // The connection is going away; run() reports it.
    }
  }
}

/** Replaces node-postgres' type parsers with the identity, so tuples hold Postgres text values. */
function keepValuesAsText(plugin: PgoutputPlugin): void {
  const parser = (plugin as unknown as { parser: { readRelationColumn: (reader: unknown) => { parser: (raw: unknown) => unknown } } }).parser;
  const read = parser.readRelationColumn.bind(parser);
  parser.readRelationColumn = (reader: unknown) => ({ ...read(reader), parser: identity });
}
