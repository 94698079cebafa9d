import pg from 'pg';
import { CHECKPOINT_CHANNEL } from './commit-batch';
import type { Queryable } from './types';

/**
 * The channel every statement that writes the parameter index notifies (empty payload), in the
 * writing transaction: before that transaction's checkpoint notice (migration 0012).
 */
export const PARAMETER_CHANNEL = 'lockstep_parameters';

export interface CheckpointNotice {
  rulesId: number;
  opId: number;
}

export interface ListenCheckpointsOptions {
  /**
   * Called each time LISTEN is in place, first with reconnect=false. Notices sent while the
   * connection was down are lost, so on a reconnect re-read latestCheckpoint.
   */
  onConnect?: (info: { reconnect: boolean }) => void;
  /**
   * Also listens on PARAMETER_CHANNEL: called when the parameter index changed, before the notice of
   * the checkpoint that includes the change. Notices sent while the connection was down are lost
   * (onConnect with reconnect=true says so).
   */
  onParameterChange?: () => void;
  /** Connection errors and failing callbacks; the listener keeps going. Defaults to console.warn. */
  onError?: (error: Error) => void;
  /** Reconnect backoff: doubles from minDelayMs up to maxDelayMs. */
  minDelayMs?: number;
  maxDelayMs?: number;
}

export interface CheckpointListener {
  /** Resolves once the first LISTEN is in place (or the listener is closed first). */
  ready: Promise<void>;
  close(): Promise<void>;
}

/** Parses a '<rules_id>:<op_id>' payload; undefined when it is not one. */
export function parseCheckpointNotice(payload: string | undefined): CheckpointNotice | undefined {
  const match = /^(\d+):(\d+)$/.exec(payload ?? '');
  return match ? { rulesId: Number(match[1]), opId: Number(match[2]) } : undefined;
}

/**
 * Calls `onCheckpoint` for every checkpoint committed to bucket storage, over one dedicated
 * connection (LISTEN cannot share a pooled one) that reconnects with backoff when it drops.
 *
 * @example
 *   const listener = listenCheckpoints(process.env.SYNC_DATABASE_URL!, ({ rulesId, opId }) => wake(rulesId, opId));
 *   await listener.ready;
 *   // ... on shutdown:
 *   await listener.close();
 */
export function listenCheckpoints(url: string, onCheckpoint: (notice: CheckpointNotice) => void, options: ListenCheckpointsOptions = {}): CheckpointListener {
  const onError = options.onError ?? ((error: Error) => console.warn(`[lockstep] checkpoint listener: ${error.message}`));
  const minDelay = options.minDelayMs ?? 100;
  const maxDelay = options.maxDelayMs ?? 5_000;
  let closed = false;
  let connectedOnce = false;
  let current: pg.Client | undefined;
  let timer: NodeJS.Timeout | undefined;
  let failures = 0;
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const asError = (e: unknown) => (e instanceof Error ? e : new Error(String(e)));

  const retire = (client: pg.Client) => {
    if (client !== current) return; // this client has already been replaced
    current = undefined;
    client.removeAllListeners('notification');
    client.end().catch((e: unknown) => onError(asError(e)));
    if (closed) return;
    const delay = Math.min(maxDelay, minDelay * 2 ** failures++);
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, delay);
  };

  const connect = async () => {
    if (closed) return;
    const client = new pg.Client({ connectionString: url, keepAlive: true });
    current = client;
    client.on('notification', (message) => {
      if (message.channel === PARAMETER_CHANNEL && options.onParameterChange) {
        try {
          options.onParameterChange();
        } catch (error: unknown) {
          onError(asError(error));
        }
        return;
      }
      if (message.channel !== CHECKPOINT_CHANNEL) return;
      const notice = parseCheckpointNotice(message.payload);
      if (!notice) return onError(new Error(`unexpected ${CHECKPOINT_CHANNEL} payload "${message.payload}"`));
      try {
        onCheckpoint(notice);
      } catch (error: unknown) {
        onError(asError(error));
      }
    });
    // Without an 'error' listener a dropped connection would crash the process.
    client.on('error', (error) => {
      onError(error);
      retire(client);
    });
    client.on('end', () => retire(client));
    try {
      await client.connect();
      await client.query(options.onParameterChange ? `LISTEN ${PARAMETER_CHANNEL}; LISTEN ${CHECKPOINT_CHANNEL}` : `LISTEN ${CHECKPOINT_CHANNEL}`);
    } catch (error: unknown) {
      if (closed) return; // close() ended this connection while it was opening
      onError(asError(error));
      retire(client);
      return;
    }
    if (client !== current) return;
    failures = 0;
    options.onConnect?.({ reconnect: connectedOnce });
    connectedOnce = true;
    markReady();
  };

  void connect();
  return {
    ready,
    async close() {
      closed = true;
      markReady();
      if (timer) clearTimeout(timer);
      const client = current;
      current = undefined;
      if (client) {
        client.removeAllListeners('notification');
        await client.end();
      }
    },
  };
}

/**
 * Whether bucket storage sends PARAMETER_CHANNEL notices (migration 0012 applied). Without them a
 * listener cannot tell when the parameter index changed and must assume it may have, every time.
 */
export async function parameterNoticesEnabled(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ enabled: boolean }>(
    "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'parameter_index_changed' AND tgrelid = 'lockstep.parameter_index'::regclass AND tgenabled <> 'D') AS enabled",
  );
  return rows[0]?.enabled === true;
}
