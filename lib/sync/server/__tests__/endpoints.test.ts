import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { errorBodySchema, jwksSchema, syncTokenResponseSchema } from '@/lib/sync/protocol';
import { keyPairAuth, secretAuth } from '../auth/config';
import { verifySyncToken } from '../auth/tokens';
import { handleJwks, handleTokenRequest } from '../endpoints';
import { silentServerLogger as log } from '../log';

describe('GET /api/sync/token', () => {
  const auth = secretAuth(randomBytes(32));

  it('refuses a request without a signed-in user (401 AUTH_NOT_SIGNED_IN)', async () => {
    for (const session of [null, {}, { user: null }, { user: { id: '' } }]) {
      const res = await handleTokenRequest(session, { auth: async () => auth, log });
      expect(res.status).toBe(401);
      expect(errorBodySchema.parse(await res.json()).error.code).toBe('AUTH_NOT_SIGNED_IN');
    }
  });

  it('issues a token for the session user, with app-defined claims, and says when it expires', async () => {
    const res = await handleTokenRequest({ user: { id: 'user-9' } }, { auth: async () => auth, claims: (s) => ({ org: `org-of-${s.user.id}` }), log });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toContain('no-store');
    const body = syncTokenResponseSchema.parse(await res.json());
    const claims = await verifySyncToken(auth, body.token);
    expect(claims).toMatchObject({ sub: 'user-9', org: 'org-of-user-9' });
    expect(new Date(body.expires_at).getTime()).toBe(claims.exp * 1000);
  });

  it('answers a misconfigured server with a JSON 500, not a stack trace', async () => {
    const res = await handleTokenRequest({ user: { id: 'u' } }, { auth: () => secretAuthAsync('short'), log });
    expect(res.status).toBe(500);
    expect(errorBodySchema.parse(await res.json()).error.code).toBe('SERVER_MISCONFIGURED');
  });
});

async function secretAuthAsync(secret: string) {
  return secretAuth(secret);
}

describe('GET /api/sync/jwks', () => {
  it('is empty with a shared secret (which is never published)', async () => {
    const res = await handleJwks({ auth: async () => secretAuth('s'.repeat(40)), log });
    expect(jwksSchema.parse(await res.json())).toEqual({ keys: [] });
  });

  it('publishes the public key, which verifies tokens from GET /api/sync/token', async () => {
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const auth = await keyPairAuth(pem);
    const jwks = jwksSchema.parse(await (await handleJwks({ auth: async () => auth, log })).json());
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'EC', alg: 'ES256', use: 'sig', kid: auth.kid });
    expect(jwks.keys[0]).not.toHaveProperty('d');
    const { token } = syncTokenResponseSchema.parse(await (await handleTokenRequest({ user: { id: 'u1' } }, { auth: async () => auth, log })).json());
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0]), { audience: auth.audience, issuer: auth.issuer });
    expect(payload.sub).toBe('u1');
  });
});
