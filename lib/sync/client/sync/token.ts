import { errorBodySchema, SyncPath, syncTokenResponseSchema } from '@/lib/sync/protocol';
import { ClientErrorCode, SyncClientError } from '../errors';

/** A sync token and when it expires. */
export interface SyncToken {
  token: string;
  /** ms since the epoch. */
  expiresAt: number;
}

/**
 * Where sync tokens come from. The browser default asks GET /api/sync/token (session cookie);
 * Node tests and scripts pass their own, e.g. `() => signSyncToken(...)`.
 */
export type TokenFetcher = () => Promise<SyncToken>;

/** Caches a token and fetches a new one when less than `marginMs` of it is left (or after invalidate()). */
export class TokenSource {
  private cached: SyncToken | undefined;
  private inflight: Promise<SyncToken> | undefined;

  constructor(
    private readonly fetchToken: TokenFetcher,
    private readonly marginMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** A token with more than the margin left (or, for very short-lived tokens, the freshest one). */
  async get(): Promise<SyncToken> {
    const cached = this.cached;
    if (cached && cached.expiresAt - this.now() > this.marginMs) return cached;
    this.inflight ??= this.fetchToken().finally(() => (this.inflight = undefined));
    const token = await this.inflight;
    this.cached = token;
    return token;
  }

  /** How long before expiry the stream should be renewed with a new token: the margin, or half a short token's life. */
  renewAfterMs(token: SyncToken): number {
    const left = token.expiresAt - this.now();
    return Math.max(0, left > 2 * this.marginMs ? left - this.marginMs : left / 2);
  }

  /** Forgets the cached token (the server refused it). */
  invalidate(): void {
    this.cached = undefined;
  }
}

/**
 * GET /api/sync/token on `baseUrl` with the session cookie.
 *
 * @example
 *   const tokens = new TokenSource(fetchSyncToken(''));
 */
export function fetchSyncToken(baseUrl: string, fetchImpl: typeof fetch = fetch): TokenFetcher {
  return async () => {
    let response: Response;
    try {
      response = await fetchImpl(`${baseUrl}${SyncPath.token}`, { credentials: 'same-origin', cache: 'no-store' });
    } catch (error: unknown) {
      throw new SyncClientError(ClientErrorCode.token, `Could not reach ${SyncPath.token}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    const body: unknown = await response.json().catch(() => null);
    if (!response.ok) {
      const parsed = errorBodySchema.safeParse(body);
      const detail = parsed.success ? `${parsed.data.error.code}: ${parsed.data.error.message}` : `HTTP ${response.status}`;
      throw new SyncClientError(ClientErrorCode.token, `No sync token (${detail}).`, { details: { status: response.status, ...(parsed.success ? { code: parsed.data.error.code } : {}) } });
    }
    const parsed = syncTokenResponseSchema.safeParse(body);
    if (!parsed.success) throw new SyncClientError(ClientErrorCode.token, `${SyncPath.token} answered with an unexpected body.`);
    return { token: parsed.data.token, expiresAt: Date.parse(parsed.data.expires_at) };
  };
}
