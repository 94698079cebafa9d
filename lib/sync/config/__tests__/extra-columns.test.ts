import { describe, expect, it } from 'vitest';
import rulesConfig from '@/sync.config';
import { compileSyncRules } from '@/lib/sync/config';

const rules = compileSyncRules(rulesConfig);
const U1 = '11111111-1111-4111-8111-111111111111';

describe('columns added to a synced table before schema.ts knows them', () => {
  const user = { id: U1, email: 'a@example.com', name: 'A', password_hash: 'scrypt$secret', created_at: '2026-01-02 03:04:05+00' };

  it('are sent as text by a query that names no column subset', () => {
    rules.observeColumns('users', [...Object.keys(user), 'nickname', 'shoe_size']);
    const [placed] = rules.evaluateRow('users', { ...user, nickname: 'Al', shoe_size: null });
    const data = JSON.parse(placed!.data) as Record<string, unknown>;
    expect(data).toMatchObject({ id: U1, nickname: 'Al', shoe_size: null });
    expect(Object.keys(data).slice(-2)).toEqual(['nickname', 'shoe_size']);
  });

  it('never bring back an omitted column', () => {
    rules.observeColumns('users', [...Object.keys(user), 'nickname']);
    const [placed] = rules.evaluateRow('users', { ...user, nickname: 'Al' });
    expect(placed!.data).not.toContain('password_hash');
    expect(placed!.data).not.toContain('secret');
  });

  it('leave rows without new columns exactly as before', () => {
    rules.observeColumns('users', Object.keys(user));
    const [placed] = rules.evaluateRow('users', user);
    expect(Object.keys(JSON.parse(placed!.data) as object)).toEqual(['id', 'email', 'name', 'created_at']);
  });
});
