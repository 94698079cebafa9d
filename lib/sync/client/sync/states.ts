/**
 * The sync client's states and transitions (docs/client.md#states, which a unit test keeps equal
 * to this table). Every (state, event) pair has an entry: adding a state or an event without
 * deciding each of its cases fails to compile.
 */

export const SYNC_STATES = ['stopped', 'connecting', 'downloading', 'held', 'synced', 'backoff'] as const;
export type SyncState = (typeof SYNC_STATES)[number];

export const SYNC_EVENTS = [
  'start',
  'opened',
  'checkpoint',
  'applied',
  'held_back',
  'checksum_failed',
  'token_expiring',
  'rules_changed',
  'ended',
  'failed',
  'retry',
  'stop',
] as const;
export type SyncEvent = (typeof SYNC_EVENTS)[number];

/** `null`: the event cannot happen in that state (the engine treats it as a bug and logs it). */
export type TransitionTable = { readonly [S in SyncState]: { readonly [E in SyncEvent]: SyncState | null } };

export const TRANSITIONS = {
  stopped: {
    start: 'connecting',
    opened: null,
    checkpoint: null,
    applied: null,
    held_back: null,
    checksum_failed: null,
    token_expiring: null,
    rules_changed: null,
    ended: null,
    failed: null,
    retry: null,
    stop: 'stopped',
  },
  connecting: {
    start: null,
    opened: 'downloading',
    checkpoint: null,
    applied: 'connecting',
    held_back: null,
    checksum_failed: null,
    token_expiring: 'connecting',
    rules_changed: null,
    ended: 'backoff',
    failed: 'backoff',
    retry: null,
    stop: 'stopped',
  },
  downloading: {
    start: null,
    opened: null,
    checkpoint: 'downloading',
    applied: 'synced',
    held_back: 'held',
    checksum_failed: 'connecting',
    token_expiring: 'connecting',
    rules_changed: 'connecting',
    ended: 'backoff',
    failed: 'backoff',
    retry: null,
    stop: 'stopped',
  },
  held: {
    start: null,
    opened: null,
    checkpoint: 'downloading',
    applied: 'synced',
    held_back: 'held',
    checksum_failed: null,
    token_expiring: 'connecting',
    rules_changed: 'connecting',
    ended: 'backoff',
    failed: 'backoff',
    retry: null,
    stop: 'stopped',
  },
  synced: {
    start: null,
    opened: null,
    checkpoint: 'downloading',
    applied: 'synced',
    held_back: null,
    checksum_failed: null,
    token_expiring: 'connecting',
    rules_changed: 'connecting',
    ended: 'backoff',
    failed: 'backoff',
    retry: null,
    stop: 'stopped',
  },
  backoff: {
    start: null,
    opened: null,
    checkpoint: null,
    applied: 'backoff',
    held_back: null,
    checksum_failed: null,
    token_expiring: null,
    rules_changed: null,
    ended: null,
    failed: null,
    retry: 'connecting',
    stop: 'stopped',
  },
} as const satisfies TransitionTable;

/** The state after `event` in `state`, or null when the event cannot happen there. */
export function transition(state: SyncState, event: SyncEvent): SyncState | null {
  return (TRANSITIONS as TransitionTable)[state][event];
}
