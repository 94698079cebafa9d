import { describe, expect, it } from 'vitest';
import { listMembers, todos } from '@/lib/db/schema';
import { parseRow, tableShape } from '../columns';

describe('parseRow', () => {
  it('accepts the client row id of a composite-key table (a PUT of a list_members row made in the browser)', () => {
    const listId = '5f0c7d2e-0000-4000-8000-000000000001';
    const userId = '5f0c7d2e-0000-4000-8000-000000000002';
    const row = parseRow(tableShape(listMembers), { id: JSON.stringify([listId, userId]), list_id: listId, user_id: userId, role: 'editor' }, 'put');
    expect(row).toEqual({ listId, userId, role: 'editor' });
  });

  it('still refuses unknown columns', () => {
    expect(() => parseRow(tableShape(todos), { id: '5f0c7d2e-0000-4000-8000-000000000003', bogus: 1 }, 'patch')).toThrow(/bogus/);
  });
});
