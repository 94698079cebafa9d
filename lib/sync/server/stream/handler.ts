import { MediaType, SyncHeader, streamRequestSchema } from '@/lib/sync/protocol';
import { authenticate } from '../auth/bearer';
import type { SyncAuthConfig } from '../auth/config';
import { parseBody, readJsonBody } from '../http/read-body';
import { BASE_HEADERS, errorResponse } from '../http/responses';
import type { SyncHub } from '../hub/hub';
import type { SyncServerLogger } from '../log';
import { detachedFromRequest, sessionBody } from './body';
import { StreamSession } from './session';

export interface StreamHandlerDeps {
  auth: () => Promise<SyncAuthConfig>;
  hub: SyncHub;
  log: SyncServerLogger;
}

/** Response headers of a stream; `x-accel-buffering` keeps nginx from holding lines back. */
const STREAM_HEADERS: Readonly<Record<string, string>> = {
  ...BASE_HEADERS,
  [SyncHeader.contentType]: `${MediaType.ndjson}; charset=utf-8`,
  'x-accel-buffering': 'no',
};

/**
 * POST /api/sync/stream. In this order: the bearer token (401), the body (415, 413, 400), bucket
 * storage (503); then a 200 whose body streams the user's checkpoints and data until the token
 * expires or the client goes away. The user's buckets come from the token and the parameter
 * index only; bucket names in the body are read as resume positions and nothing else.
 */
export async function handleStream(request: Request, deps: StreamHandlerDeps): Promise<Response> {
  try {
    const claims = await authenticate(request, await deps.auth());
    const body = parseBody(streamRequestSchema, await readJsonBody(request));
    // The hub's LISTEN connection (made by the first request) lives as long as the process: not in that request's context.
    await detachedFromRequest(() => deps.hub.ready());
    const signal = request.signal;
    // The stream outlives the request's handling: it must not keep the request's async context alive.
    const stream = detachedFromRequest(() => sessionBody(new StreamSession({ hub: deps.hub, claims, request: body, log: deps.log }), signal));
    return new Response(stream, { status: 200, headers: STREAM_HEADERS });
  } catch (error: unknown) {
    return errorResponse(error, deps.log);
  }
}
