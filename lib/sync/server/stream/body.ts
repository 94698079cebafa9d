import { AsyncResource } from 'node:async_hooks';
import type { StreamSession } from './session';

/**
 * The async context streams run in, made when this module loads: in `next start` that is at
 * server start (Next preloads route modules), outside any request. A stream's promises and timers
 * would otherwise carry the context of the request that opened it, and with it the request's
 * AsyncLocalStorage stores (Next's request and work stores, their cookies, headers and caches),
 * kept alive for as long as the stream stays open. The stream never reads them. (Loaded during a
 * request, as in `next dev`, it keeps that one request's stores instead: once per process.)
 */
const detached = new AsyncResource('lockstep.sync-stream');

/**
 * Runs `fn` in the streams' own async context (see `detached`), outside the calling request's.
 *
 * @example
 *   const body = detachedFromRequest(() => sessionBody(session, request.signal));
 */
export function detachedFromRequest<T>(fn: () => T): T {
  return detached.runInAsyncScope(fn);
}

/**
 * The response body of a stream: a pull-based ReadableStream over the session's lines. Nothing is
 * produced until the HTTP layer asks for it, and at most one chunk waits in the stream's queue,
 * so a client that reads slowly holds the server to its pace (and to a bounded amount of memory).
 * A round may also hand an idle session's lines straight to the stream (session.deliver), only
 * while the queue is empty. The session closes when the client goes away: on cancel() or when
 * `signal` aborts. Pulls run in the streams' own async context (detachedFromRequest).
 */
export function sessionBody(session: StreamSession, signal?: AbortSignal): ReadableStream<Uint8Array> {
  const lines = session.lines();
  const onAbort = () => {
    session.close();
    void lines.return(undefined).catch(() => {});
  };
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  const detach = () => signal?.removeEventListener('abort', onAbort);
  const next = () => lines.next();

  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        // A stream cut off (token expired, client not reading): error the body, so the HTTP
        // layer drops the connection instead of waiting for a reader that never comes.
        session.terminate = () => {
          detach();
          onAbort();
          try {
            controller.error(new Error('sync stream cut off: the token expired and the client is not reading'));
          } catch {
            // Already closed.
          }
        };
        session.deliver = (chunk) => {
          // Room only when the queue is empty: the reader waits for a chunk (or will take this one next).
          if (controller.desiredSize === null || controller.desiredSize <= 0) return false;
          try {
            controller.enqueue(chunk);
            return true;
          } catch {
            return false;
          }
        };
      },
      pull(controller) {
        return detached.runInAsyncScope(next).then(
          (result) => {
            try {
              if (result.done) {
                detach();
                controller.close();
              } else {
                controller.enqueue(result.value);
              }
            } catch {
              // The stream was cancelled while the line was produced: nobody is reading any more.
            }
          },
          (error: unknown) => {
            detach();
            controller.error(error);
          },
        );
      },
      cancel() {
        detach();
        onAbort();
      },
    },
    { highWaterMark: 1 },
  );
}
