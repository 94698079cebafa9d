import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { isLockstepError } from '@/lib/sync/errors';
import { keyPairAuth, secretAuth, syncAuthFromEnv } from '../config';
import { signSyncToken, verifySyncToken } from '../tokens';
import { bearerToken } from '../bearer';

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error: unknown) {
    return isLockstepError(error) ? error.code : `not a LockstepError: ${String(error)}`;
  }
}

const pem = (type: 'rsa' | 'ec' | 'ed25519') =>
  (type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519')).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();

describe('sync tokens with a shared secret (HS256)', () => {
  const auth = secretAuth(randomBytes(32));

  it('round-trips sub, app-defined claims, aud, iss and exp', async () => {
    const now = new Date();
    const { token, expiresAt } = await signSyncToken(auth, { sub: 'user-1', claims: { org: 'o-1', roles: ['a'] }, ttlSeconds: 120, now });
    const claims = await verifySyncToken(auth, token);
    expect(claims).toMatchObject({ sub: 'user-1', org: 'o-1', roles: ['a'], aud: 'lockstep-sync', iss: 'lockstep' });
    expect(claims.exp * 1000).toBe(expiresAt.getTime());
    expect(expiresAt.getTime() - Math.floor(now.getTime() / 1000) * 1000).toBe(120_000);
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'JWT' });
  });

  it('refuses to sign reserved claims or an empty subject', async () => {
    expect(await codeOf(signSyncToken(auth, { sub: 'u', claims: { sub: 'someone-else' } }))).toBe('SYNC_TOKEN_CLAIM_RESERVED');
    expect(await codeOf(signSyncToken(auth, { sub: 'u', claims: { exp: 9999999999 } }))).toBe('SYNC_TOKEN_CLAIM_RESERVED');
    expect(await codeOf(signSyncToken(auth, { sub: '' }))).toBe('SYNC_TOKEN_SUBJECT');
  });

  it('accepts a token within the clock tolerance and refuses it after', async () => {
    const { token } = await signSyncToken(auth, { sub: 'u', ttlSeconds: 10 });
    const later = (s: number) => new Date(Date.now() + s * 1000);
    await expect(verifySyncToken(auth, token, { now: later(12) })).resolves.toMatchObject({ sub: 'u' });
    expect(await codeOf(verifySyncToken(auth, token, { now: later(20) }))).toBe('AUTH_TOKEN_EXPIRED');
  });

  it('refuses secrets shorter than 32 bytes', () => {
    expect(() => secretAuth('short')).toThrow(/at least 32/);
  });
});

describe('sync tokens with an asymmetric key and its JWKS', () => {
  for (const [type, alg] of [['ec', 'ES256'], ['rsa', 'RS256'], ['ed25519', 'EdDSA']] as const) {
    it(`${type}: signs ${alg}, and another backend verifies with the published JWKS alone`, async () => {
      const auth = await keyPairAuth(pem(type));
      expect(auth.algorithm).toBe(alg);
      const { token } = await signSyncToken(auth, { sub: 'user-2' });
      expect(decodeProtectedHeader(token)).toMatchObject({ alg, kid: auth.kid });
      const jwks = createLocalJWKSet({ keys: [auth.publicJwk!] });
      const { payload } = await jwtVerify(token, jwks, { audience: 'lockstep-sync', issuer: 'lockstep' });
      expect(payload.sub).toBe('user-2');
      expect(auth.publicJwk).not.toHaveProperty('d'); // never the private part
    });
  }

  it('refuses the algorithm confusion attack: HS256 signed with the public key as the secret', async () => {
    const auth = await keyPairAuth(pem('rsa'));
    const publicPem = auth.verificationKey.export({ format: 'pem', type: 'spki' });
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('admin').setAudience(auth.audience).setIssuer(auth.issuer).setIssuedAt(now).setExpirationTime(now + 60).sign(new Uint8Array(Buffer.from(publicPem)));
    expect(await codeOf(verifySyncToken(auth, forged))).toBe('AUTH_TOKEN_ALGORITHM');
  });

  it('refuses a token signed by another key of the same type', async () => {
    const auth = await keyPairAuth(pem('ec'));
    const other = await keyPairAuth(pem('ec'));
    const { token } = await signSyncToken(other, { sub: 'u' });
    expect(await codeOf(verifySyncToken(auth, token))).toBe('AUTH_TOKEN_INVALID');
  });
});

describe('sync token configuration from the environment', () => {
  const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'lockstep-auth-'));

  it('uses SYNC_JWT_SECRET, audience, issuer and ttl overrides', async () => {
    const auth = await syncAuthFromEnv({ SYNC_JWT_SECRET: 's'.repeat(40), SYNC_JWT_AUDIENCE: 'aud-x', SYNC_JWT_ISSUER: 'iss-x', SYNC_TOKEN_TTL_SECONDS: '60' });
    expect(auth).toMatchObject({ algorithm: 'HS256', audience: 'aud-x', issuer: 'iss-x', ttlSeconds: 60 });
  });

  it('uses SYNC_JWT_PRIVATE_KEY, also with escaped newlines as env files have them', async () => {
    const auth = await syncAuthFromEnv({ SYNC_JWT_PRIVATE_KEY: pem('ec').replaceAll('\n', '\\n'), SYNC_JWT_KID: 'k1' });
    expect(auth).toMatchObject({ algorithm: 'ES256', kid: 'k1' });
  });

  it('generates a development secret once into the data directory and reuses it', async () => {
    const dir = tmp();
    const env = { LOCKSTEP_DATA_DIR: dir, NODE_ENV: 'development' };
    const first = await syncAuthFromEnv(env);
    const second = await syncAuthFromEnv(env);
    const { token } = await signSyncToken(first, { sub: 'u' });
    await expect(verifySyncToken(second, token)).resolves.toMatchObject({ sub: 'u' });
    const file = path.join(dir, 'sync-jwt-secret');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it('refuses to run in production without a configured key, and refuses ambiguous or bad settings', async () => {
    expect(await codeOf(syncAuthFromEnv({ NODE_ENV: 'production' }))).toBe('SERVER_MISCONFIGURED');
    expect(await codeOf(syncAuthFromEnv({ SYNC_JWT_SECRET: 's'.repeat(40), SYNC_JWT_PRIVATE_KEY: pem('ec') }))).toBe('SERVER_MISCONFIGURED');
    expect(await codeOf(syncAuthFromEnv({ SYNC_JWT_PRIVATE_KEY: 'not a key' }))).toBe('SERVER_MISCONFIGURED');
    expect(await codeOf(syncAuthFromEnv({ SYNC_JWT_SECRET: 's'.repeat(40), SYNC_TOKEN_TTL_SECONDS: 'forever' }))).toBe('SERVER_MISCONFIGURED');
  });
});

describe('bearer header parsing', () => {
  const req = (authorization?: string) => new Request('http://x/', { headers: authorization === undefined ? {} : { authorization } });

  it('takes the token of "Bearer <token>", in any case of the scheme', () => {
    expect(bearerToken(req('Bearer a.b.c'))).toBe('a.b.c');
    expect(bearerToken(req('bearer a.b.c'))).toBe('a.b.c');
  });

  it('refuses a missing header, another scheme, and junk', () => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (error: unknown) {
        return (error as { code?: string }).code;
      }
    };
    expect(code(() => bearerToken(req()))).toBe('AUTH_TOKEN_MISSING');
    expect(code(() => bearerToken(req('Basic abc')))).toBe('AUTH_TOKEN_INVALID');
    expect(code(() => bearerToken(req('Bearer a b')))).toBe('AUTH_TOKEN_INVALID');
    expect(code(() => bearerToken(req(`Bearer ${'a'.repeat(20_000)}`)))).toBe('AUTH_TOKEN_INVALID');
  });
});
