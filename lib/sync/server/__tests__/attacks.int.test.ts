import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorBodySchema, SyncLimits, SyncPath } from '@/lib/sync/protocol';
import { secretAuth } from '../auth/config';
import { signSyncToken } from '../auth/tokens';
import { Replica, request, type RawResponse } from './client';
import { streamFixture, syncUntilComplete, userBuckets, type StreamFixture } from './harness';

let f: StreamFixture;
let url: string;

beforeAll(async () => {
  f = await streamFixture();
  url = `${f.baseUrl}${SyncPath.stream}`;
});
afterAll(async () => {
  await f?.close();
});

const body = JSON.stringify({ client_id: 'attacker' });

function post(headers: Record<string, string>, payload: string | Buffer = body): Promise<RawResponse> {
  return request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: payload });
}

function expectError(res: RawResponse, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toContain('application/json');
  const parsed = errorBodySchema.parse(res.json());
  expect(parsed.error.code).toBe(code);
  expect(parsed.error.message.length).toBeGreaterThan(10);
}

/** A token the way an attacker would forge one: our claims, their key or header. */
function forged(claims: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ ...claims }).setSubject(f.users.alice).setIssuer(f.auth.issuer).setAudience(f.auth.audience).setIssuedAt(now).setExpirationTime(now + 600);
}

describe('sync stream: refused tokens', () => {
  it('refuses a request without a token (401, before reading the body)', async () => {
    const res = await post({}, 'not even json');
    expectError(res, 401, 'AUTH_TOKEN_MISSING');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it('refuses a non-bearer Authorization header', async () => {
    expectError(await post({ authorization: `Basic ${Buffer.from('alice:alice-password').toString('base64')}` }), 401, 'AUTH_TOKEN_INVALID');
    expectError(await post({ authorization: 'Bearer not-a-jwt' }), 401, 'AUTH_TOKEN_INVALID');
  });

  it('refuses an expired token', async () => {
    const { token } = await signSyncToken(f.auth, { sub: f.users.alice, ttlSeconds: 60, now: new Date(Date.now() - 3_600_000) });
    const res = await post({ authorization: `Bearer ${token}` });
    expectError(res, 401, 'AUTH_TOKEN_EXPIRED');
    expect(res.headers['www-authenticate']).toContain('invalid_token');
  });

  it('refuses a token signed with another secret, and a token whose payload was edited', async () => {
    const other = secretAuth(randomBytes(32));
    const { token } = await signSyncToken(other, { sub: f.users.alice });
    expectError(await post({ authorization: `Bearer ${token}` }), 401, 'AUTH_TOKEN_INVALID');

    const genuine = await f.token(f.users.alice);
    const [header, payload, signature] = genuine.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const edited = Buffer.from(JSON.stringify({ ...claims, sub: f.users.bob })).toString('base64url');
    expectError(await post({ authorization: `Bearer ${header}.${edited}.${signature}` }), 401, 'AUTH_TOKEN_INVALID');
  });

  it('refuses alg "none" and algorithms off the allow-list', async () => {
    const now = Math.floor(Date.now() / 1000);
    const unsecured = new UnsecuredJWT({}).setSubject(f.users.alice).setIssuer(f.auth.issuer).setAudience(f.auth.audience).setIssuedAt(now).setExpirationTime(now + 600).encode();
    expectError(await post({ authorization: `Bearer ${unsecured}` }), 401, 'AUTH_TOKEN_ALGORITHM');
    // Same secret, another HMAC: still refused, the allow-list is exactly HS256.
    const hs512 = await forged().setProtectedHeader({ alg: 'HS512' }).sign(f.auth.signingKey);
    expectError(await post({ authorization: `Bearer ${hs512}` }), 401, 'AUTH_TOKEN_ALGORITHM');
  });

  it('refuses a wrong audience, a wrong issuer, a missing exp and a missing sub', async () => {
    const now = Math.floor(Date.now() / 1000);
    const sign = (jwt: SignJWT) => jwt.setProtectedHeader({ alg: 'HS256' }).sign(f.auth.signingKey);
    expectError(await post({ authorization: `Bearer ${await sign(forged().setAudience('another-app'))}` }), 401, 'AUTH_TOKEN_CLAIMS');
    expectError(await post({ authorization: `Bearer ${await sign(forged().setIssuer('someone-else'))}` }), 401, 'AUTH_TOKEN_CLAIMS');
    const noExp = await sign(new SignJWT({}).setSubject(f.users.alice).setIssuer(f.auth.issuer).setAudience(f.auth.audience).setIssuedAt(now));
    expectError(await post({ authorization: `Bearer ${noExp}` }), 401, 'AUTH_TOKEN_CLAIMS');
    const noSub = await sign(new SignJWT({}).setIssuer(f.auth.issuer).setAudience(f.auth.audience).setIssuedAt(now).setExpirationTime(now + 60));
    expectError(await post({ authorization: `Bearer ${noSub}` }), 401, 'AUTH_TOKEN_CLAIMS');
  });
});

describe('sync stream: a token for one user never yields another user\'s rows', () => {
  it('ignores bucket names of other users in the body; only the token decides', async () => {
    const bobBuckets = await userBuckets(f.replication.app.pool, f.users.bob);
    const carolBuckets = await userBuckets(f.replication.app.pool, f.users.carol);
    const foreign = [...bobBuckets].filter((b) => !carolBuckets.has(b));
    expect(foreign.length).toBeGreaterThan(0);
    const client = await f.open(await f.token(f.users.carol), {
      client_id: 'carol-attack',
      buckets: [...foreign.map((name) => ({ name, after: '0' })), { name: 'me["*"]', after: '0' }, { name: `me${JSON.stringify([f.users.bob])}`, after: '0' }],
    });
    const replica = new Replica();
    await syncUntilComplete(client, replica);
    client.close();
    const checkpoint = client.lines.find((l) => l.type === 'checkpoint')!;
    if (checkpoint.type !== 'checkpoint') throw new Error('unreachable');
    expect(new Set(checkpoint.buckets.map((b) => b.bucket))).toEqual(carolBuckets);
    for (const line of client.lines) if (line.type === 'data') expect(carolBuckets.has(line.bucket)).toBe(true);
    const received = JSON.stringify(client.lines);
    expect(received).not.toContain('bob@example.com');
    expect(received).not.toContain('Review the sync protocol'); // a todo of Bob's Work list
    expect(replica.contents()).toEqual(await f.expectedFor(f.users.carol));
  });

  it('ignores a user id in app-defined claims or in the body: sub is the user', async () => {
    const token = (await signSyncToken(f.auth, { sub: f.users.carol, claims: { user_id: f.users.bob, userId: f.users.bob } })).token;
    const client = await f.open(token, JSON.stringify({ client_id: 'carol-claims', user_id: f.users.bob, sub: f.users.bob }));
    const replica = new Replica();
    await syncUntilComplete(client, replica);
    client.close();
    expect(JSON.stringify(client.lines)).not.toContain('bob@example.com');
    expect(replica.contents()).toEqual(await f.expectedFor(f.users.carol));
  });
});

describe('sync stream: refused bodies', () => {
  let auth: Record<string, string>;
  beforeAll(async () => {
    auth = { authorization: `Bearer ${await f.token(f.users.alice)}` };
  });

  it('answers 400 REQUEST_BODY_MALFORMED for text that is not JSON, and for an empty body', async () => {
    expectError(await post(auth, '{"client_id": '), 400, 'REQUEST_BODY_MALFORMED');
    expectError(await post(auth, ''), 400, 'REQUEST_BODY_MALFORMED');
  });

  it('answers 400 REQUEST_BODY_INVALID naming the field', async () => {
    const cases: Array<[unknown, string]> = [
      [{}, 'client_id'],
      [[], '(body)'],
      [{ client_id: 'has spaces' }, 'client_id'],
      [{ client_id: 'x'.repeat(SyncLimits.maxClientIdLength + 1) }, 'client_id'],
      [{ client_id: 'c', buckets: 'all' }, 'buckets'],
      [{ client_id: 'c', buckets: [{ name: 'a', after: '-1' }] }, 'buckets[0].after'],
      [{ client_id: 'c', buckets: [{ name: 'a', after: '0' }, { name: 'b', after: 5 }] }, 'buckets[1].after'],
      [{ client_id: 'c', buckets: [{ name: 'a', after: '99999999999999999999' }] }, 'buckets[0].after'],
      [{ client_id: 'c', buckets: [{ after: '0' }] }, 'buckets[0].name'],
      [{ client_id: 'c', buckets: Array.from({ length: SyncLimits.maxBucketPositions + 1 }, () => ({ name: 'a', after: '0' })) }, 'buckets'],
    ];
    for (const [payload, field] of cases) {
      const res = await post(auth, JSON.stringify(payload));
      expectError(res, 400, 'REQUEST_BODY_INVALID');
      const error = errorBodySchema.parse(res.json()).error;
      expect(error.details?.field, JSON.stringify(payload).slice(0, 80)).toBe(field);
      expect(error.message).toContain(field);
    }
  });

  it('answers 413 for a body over the limit, declared or streamed', async () => {
    const big = JSON.stringify({ client_id: 'c', padding: 'x'.repeat(SyncLimits.maxRequestBytes) });
    expectError(await post(auth, big), 413, 'REQUEST_BODY_TOO_LARGE');
    // Chunked, without a Content-Length: counted as it arrives.
    const chunked = await new Promise<RawResponse>((resolve, reject) => {
      const req = http.request(url, { method: 'POST', headers: { ...auth, 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) as unknown });
        });
      });
      req.on('error', reject);
      for (let i = 0; i < 40; i++) req.write('x'.repeat(16 * 1024));
      req.end();
    });
    expectError(chunked, 413, 'REQUEST_BODY_TOO_LARGE');
  });

  it('answers 415 for a body that is not application/json', async () => {
    expectError(await post({ ...auth, 'content-type': 'text/plain' }), 415, 'REQUEST_CONTENT_TYPE');
  });
});
