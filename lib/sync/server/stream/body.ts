import type { StreamSession } from './session';

/**
 * The response body of a stream: a pull-based ReadableStream over the session's lines. Nothing is
 * produced until the HTTP layer asks for it, and at most one chunk waits in the stream's queue,
 * so a client that reads slowly holds the server to its pace (and to a bounded amount of memory).
 * The session closes when the client goes away: on cancel() or when `signal` aborts.
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
      },
      async pull(controller) {
        let result: IteratorResult<Uint8Array, void>;
        try {
          result = await lines.next();
        } catch (error: unknown) {
          detach();
          controller.error(error);
          return;
        }
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
      cancel() {
        detach();
        onAbort();
      },
    },
    { highWaterMark: 1 },
  );
}
