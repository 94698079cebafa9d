import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SYNC_EVENTS, SYNC_STATES, TRANSITIONS, type TransitionTable } from '../sync/states';

/** The transition table of docs/client.md#states, between its markers. */
function documentedTable(): Record<string, Record<string, string | null>> {
  const doc = readFileSync(path.resolve(import.meta.dirname, '../../../../docs/client.md'), 'utf8');
  const body = doc.split('<!-- states:begin -->')[1]?.split('<!-- states:end -->')[0];
  if (!body) throw new Error('docs/client.md has no states table');
  const rows = body
    .trim()
    .split('\n')
    .map((line) => line.split('|').slice(1, -1).map((cell) => cell.trim()));
  const [header, , ...states] = rows;
  const events = header!.slice(1);
  return Object.fromEntries(states.map(([state, ...cells]) => [state!, Object.fromEntries(events.map((e, i) => [e, cells[i] === '—' ? null : cells[i]!]))]));
}

describe('sync client states', () => {
  it('docs/client.md documents exactly the transition table of the code', () => {
    const code: TransitionTable = TRANSITIONS;
    expect(documentedTable()).toEqual(code);
  });

  it('every state is reachable from stopped and every state can stop', () => {
    const seen = new Set<string>(['stopped']);
    const queue = ['stopped'] as string[];
    while (queue.length > 0) {
      const state = queue.shift()! as keyof typeof TRANSITIONS;
      for (const event of SYNC_EVENTS) {
        const to = TRANSITIONS[state][event];
        if (to && !seen.has(to)) {
          seen.add(to);
          queue.push(to);
        }
      }
    }
    expect([...seen].sort()).toEqual([...SYNC_STATES].sort());
    for (const state of SYNC_STATES) expect(TRANSITIONS[state].stop).toBe('stopped');
  });
});
