import { describe, expect, it } from 'vitest';
import { addChecksums, opChecksum } from './checksum';
import { errorBodySchema, isSyncErrorCode, SYNC_ERROR_STATUS, SyncErrorCode, SyncProtocolError, TOKEN_ERROR_CODES } from './errors';
import { opIdSchema, parseSyncLine, syncLineSchema, type SyncLine } from './lines';
import { streamRequestSchema } from './requests';

const examples: SyncLine[] = [
  { type: 'checkpoint', last_op_id: '42', write_checkpoint: null, rules_version: '1.abc', buckets: [{ bucket: 'list["a"]', checksum: 4294967295, count: 3, priority: 1 }] },
  { type: 'checkpoint_diff', last_op_id: '43', write_checkpoint: '7', updated_buckets: [], removed_buckets: ['list["b"]'] },
  {
    type: 'data',
    bucket: 'list["a"]',
    after: '0',
    next_after: '42',
    has_more: false,
    ops: [
      { op_id: '40', op: 'PUT', table: 'todos', row_id: 'r1', data: '{"id":"r1"}', checksum: 1 },
      { op_id: '41', op: 'REMOVE', table: 'todos', row_id: 'r0', data: null, checksum: 2 },
      { op_id: '42', op: 'CLEAR', table: null, row_id: null, data: null, checksum: 3 },
    ],
  },
  { type: 'checkpoint_complete', last_op_id: '43' },
  { type: 'partial_checkpoint_complete', last_op_id: '43', priority: 0 },
  { type: 'keepalive' },
  { type: 'token_expires_in', seconds: 0 },
  { type: 'error', error: { code: 'SYNC_RULES_CHANGED', message: 'reconnect' } },
];

describe('stream lines', () => {
  it('parses every line type back to what was sent', () => {
    for (const line of examples) expect(parseSyncLine(JSON.stringify(line))).toEqual(line);
  });

  it('refuses unknown types, missing fields, bad op ids, checksums and priorities', () => {
    const bad = [
      { type: 'hello' },
      { type: 'checkpoint_complete' },
      { type: 'checkpoint_complete', last_op_id: 42 },
      { type: 'checkpoint_complete', last_op_id: '-1' },
      { type: 'checkpoint_complete', last_op_id: '007' },
      { type: 'partial_checkpoint_complete', last_op_id: '1', priority: 4 },
      { type: 'checkpoint', last_op_id: '1', write_checkpoint: null, rules_version: 'v', buckets: [{ bucket: 'b', checksum: 2 ** 32, count: 0, priority: 0 }] },
      { type: 'data', bucket: 'b', after: '0', next_after: '1', has_more: false, ops: [{ op_id: '1', op: 'UPSERT', table: 't', row_id: 'r', data: null, checksum: 0 }] },
    ];
    for (const line of bad) expect(syncLineSchema.safeParse(line).success, JSON.stringify(line)).toBe(false);
  });

  it('op ids are canonical decimal strings up to 2^53 - 1', () => {
    expect(opIdSchema.safeParse('0').success).toBe(true);
    expect(opIdSchema.safeParse(String(Number.MAX_SAFE_INTEGER)).success).toBe(true);
    expect(opIdSchema.safeParse('9007199254740992').success).toBe(false);
    expect(opIdSchema.safeParse('1e3').success).toBe(false);
    expect(opIdSchema.safeParse(' 1').success).toBe(false);
  });
});

describe('stream request', () => {
  it('defaults buckets to [] and keeps rules_version optional', () => {
    expect(streamRequestSchema.parse({ client_id: 'c-1' })).toEqual({ client_id: 'c-1', buckets: [] });
  });

  it('ignores unknown fields (forward compatible) but never a wrong type', () => {
    expect(streamRequestSchema.parse({ client_id: 'c', extra: true })).toEqual({ client_id: 'c', buckets: [] });
    expect(streamRequestSchema.safeParse({ client_id: 'c', rules_version: 5 }).success).toBe(false);
  });
});

describe('error codes', () => {
  it('maps every code to a 4xx or 5xx status; token codes are 401', () => {
    for (const code of Object.values(SyncErrorCode)) {
      expect(SYNC_ERROR_STATUS[code]).toBeGreaterThanOrEqual(400);
      expect(isSyncErrorCode(code)).toBe(true);
    }
    for (const code of TOKEN_ERROR_CODES) expect(SYNC_ERROR_STATUS[code as SyncErrorCode]).toBe(401);
    expect(isSyncErrorCode('toString')).toBe(false);
  });

  it('serialises an error as the documented body, with category auth or protocol', () => {
    const auth = new SyncProtocolError(SyncErrorCode.tokenExpired, 'expired');
    expect(auth).toMatchObject({ status: 401, category: 'auth', name: 'SyncProtocolError' });
    const body = new SyncProtocolError(SyncErrorCode.bodyInvalid, 'bad', { details: { field: 'client_id' } });
    expect(body.category).toBe('protocol');
    expect(errorBodySchema.parse(body.toBody())).toEqual({ error: { code: 'REQUEST_BODY_INVALID', message: 'bad', details: { field: 'client_id' } } });
  });
});

describe('docs/protocol.md#checksums worked example', () => {
  it('gives the published numbers', () => {
    const put = opChecksum('PUT', 'todos', '3f1c2a9e-0000-4000-8000-000000000001', '{"id":"3f1c2a9e-0000-4000-8000-000000000001","description":"Oat milk","completed":false}');
    const remove = opChecksum('REMOVE', 'todos', '3f1c2a9e-0000-4000-8000-000000000002', null);
    expect([put, remove, addChecksums(put, remove)]).toEqual([2830846816, 212291429, 3043138245]);
  });
});
