import { createPrivateKey, createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { SyncErrorCode, SyncProtocolError } from '@/lib/sync/protocol';
import { localDataDir, localSecret } from './local-secret';

/**
 * How sync tokens are signed and verified. One algorithm only: the verifier accepts exactly the
 * algorithm it signs with, so `alg: none`, HS256-with-the-public-key and every other downgrade
 * are refused before any signature is looked at.
 */
export interface SyncAuthConfig {
  /** The one algorithm tokens are signed with and accepted in. */
  algorithm: SyncAlgorithm;
  signingKey: KeyObject;
  verificationKey: KeyObject;
  /** The public key as published at /api/sync/jwks (asymmetric algorithms only). */
  publicJwk?: JWK;
  kid?: string;
  /** `aud` of every token, checked on verification. */
  audience: string;
  /** `iss` of every token, checked on verification. */
  issuer: string;
  /** Lifetime of tokens from GET /api/sync/token. */
  ttlSeconds: number;
  /** Leeway for `exp` and `nbf` between servers' clocks. */
  clockToleranceSeconds: number;
}

export type SyncAlgorithm = 'HS256' | 'RS256' | 'PS256' | 'ES256' | 'ES384' | 'EdDSA';

const ASYMMETRIC: ReadonlySet<string> = new Set(['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA']);

export const SYNC_TOKEN_DEFAULTS = { audience: 'lockstep-sync', issuer: 'lockstep', ttlSeconds: 600, clockToleranceSeconds: 5 } as const;

type Common = Partial<Pick<SyncAuthConfig, 'audience' | 'issuer' | 'ttlSeconds' | 'clockToleranceSeconds'>>;

function misconfigured(message: string, cause?: unknown): SyncProtocolError {
  return new SyncProtocolError(SyncErrorCode.misconfigured, message, cause === undefined ? undefined : { cause });
}

/**
 * HS256 with a shared secret (at least 32 bytes).
 * @example const auth = secretAuth(process.env.SYNC_JWT_SECRET!);
 */
export function secretAuth(secret: string | Uint8Array, options: Common = {}): SyncAuthConfig {
  const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  if (bytes.length < 32) throw misconfigured(`SYNC_JWT_SECRET is ${bytes.length} bytes; HS256 needs at least 32. Generate one with: openssl rand -base64 32`);
  const key = createSecretKey(bytes);
  return { ...SYNC_TOKEN_DEFAULTS, ...options, algorithm: 'HS256', signingKey: key, verificationKey: key };
}

/**
 * An asymmetric key (PKCS#8 PEM): tokens are signed with the private key and anyone can verify
 * them with the public key from /api/sync/jwks. The algorithm follows the key type unless given.
 * @example const auth = await keyPairAuth(process.env.SYNC_JWT_PRIVATE_KEY!);
 */
export async function keyPairAuth(privateKeyPem: string, options: Common & { algorithm?: SyncAlgorithm; kid?: string } = {}): Promise<SyncAuthConfig> {
  let signingKey: KeyObject;
  try {
    signingKey = createPrivateKey(privateKeyPem.replaceAll('\\n', '\n'));
  } catch (cause: unknown) {
    throw misconfigured('SYNC_JWT_PRIVATE_KEY is not a PEM private key (PKCS#8, "-----BEGIN PRIVATE KEY-----").', cause);
  }
  const algorithm = options.algorithm ?? algorithmOf(signingKey);
  if (!ASYMMETRIC.has(algorithm)) throw misconfigured(`SYNC_JWT_ALG ${algorithm} is not one of ${[...ASYMMETRIC].join(', ')}.`);
  const verificationKey = createPublicKey(signingKey);
  const jwk = verificationKey.export({ format: 'jwk' }) as JWK;
  const kid = options.kid ?? (await calculateJwkThumbprint(jwk));
  const { algorithm: _a, kid: _k, ...common } = options;
  return { ...SYNC_TOKEN_DEFAULTS, ...common, algorithm, signingKey, verificationKey, kid, publicJwk: { ...jwk, kid, alg: algorithm, use: 'sig' } };
}

function algorithmOf(key: KeyObject): SyncAlgorithm {
  const type = key.asymmetricKeyType;
  if (type === 'rsa') return 'RS256';
  if (type === 'rsa-pss') return 'PS256';
  if (type === 'ed25519') return 'EdDSA';
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1' || curve === 'P-256') return 'ES256';
    if (curve === 'secp384r1' || curve === 'P-384') return 'ES384';
  }
  throw misconfigured(`SYNC_JWT_PRIVATE_KEY is a ${type ?? 'unknown'} key; use RSA (RS256), EC P-256 (ES256), EC P-384 (ES384) or Ed25519 (EdDSA).`);
}

/**
 * The sync token configuration from the environment:
 * - SYNC_JWT_PRIVATE_KEY (+ SYNC_JWT_ALG, SYNC_JWT_KID): an asymmetric key, public key at /api/sync/jwks;
 * - else SYNC_JWT_SECRET: HS256;
 * - else, outside production only, a secret generated once into .data/sync-jwt-secret.
 * SYNC_JWT_AUDIENCE, SYNC_JWT_ISSUER and SYNC_TOKEN_TTL_SECONDS override the defaults.
 */
export async function syncAuthFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): Promise<SyncAuthConfig> {
  const ttl = env.SYNC_TOKEN_TTL_SECONDS === undefined ? undefined : Number(env.SYNC_TOKEN_TTL_SECONDS);
  if (ttl !== undefined && !(Number.isInteger(ttl) && ttl > 0)) throw misconfigured(`SYNC_TOKEN_TTL_SECONDS must be a positive integer, not "${env.SYNC_TOKEN_TTL_SECONDS}".`);
  const common: Common = {
    ...(env.SYNC_JWT_AUDIENCE ? { audience: env.SYNC_JWT_AUDIENCE } : {}),
    ...(env.SYNC_JWT_ISSUER ? { issuer: env.SYNC_JWT_ISSUER } : {}),
    ...(ttl ? { ttlSeconds: ttl } : {}),
  };
  if (env.SYNC_JWT_PRIVATE_KEY && env.SYNC_JWT_SECRET) throw misconfigured('Both SYNC_JWT_PRIVATE_KEY and SYNC_JWT_SECRET are set; set one of them.');
  if (env.SYNC_JWT_PRIVATE_KEY) {
    return keyPairAuth(env.SYNC_JWT_PRIVATE_KEY, { ...common, ...(env.SYNC_JWT_ALG ? { algorithm: env.SYNC_JWT_ALG as SyncAlgorithm } : {}), ...(env.SYNC_JWT_KID ? { kid: env.SYNC_JWT_KID } : {}) });
  }
  if (env.SYNC_JWT_SECRET) return secretAuth(env.SYNC_JWT_SECRET, common);
  if (env.NODE_ENV === 'production') {
    throw misconfigured('SYNC_JWT_SECRET (or SYNC_JWT_PRIVATE_KEY) is not set. Sync tokens need a configured key in production; generate a secret with: openssl rand -base64 32');
  }
  return secretAuth(localSecret('sync-jwt-secret', localDataDir(env)), common);
}
