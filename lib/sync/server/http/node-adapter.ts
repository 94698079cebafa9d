import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';

/** A fetch-style handler: what Next route handlers are. */
export type FetchHandler = (request: Request) => Promise<Response>;

/**
 * Serves a fetch-style handler from node:http, the way Next's Node runtime does: the request body
 * streams in, the response body streams out with backpressure (the next chunk is read only once
 * the socket has taken the last one), and `request.signal` aborts when the client disconnects.
 * Used by the tests and the benchmark, and by apps that run the sync endpoint outside Next.
 *
 * @example
 *   http.createServer(toNodeListener((request) => server.stream(request))).listen(4000);
 */
export function toNodeListener(handler: FetchHandler): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void serve(handler, req, res);
  };
}

async function serve(handler: FetchHandler, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const abort = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  let response: Response;
  try {
    response = await handler(toRequest(req, abort.signal));
  } catch (error: unknown) {
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(`internal error: ${(error as Error).message}`);
    return;
  }
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => (headers[name] = value));
  res.writeHead(response.status, headers);
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  // Settles when the body ends or errors; an erroring body (a stream cut off) must not wait for a
  // drain that a client which stopped reading never gives.
  const ended = reader.closed.then(
    () => undefined,
    () => undefined,
  );
  const cancel = () => void reader.cancel().catch(() => {});
  abort.signal.addEventListener('abort', cancel, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (res.destroyed) return cancel();
      if (!res.write(value)) await Promise.race([drained(res), ended]);
    }
    res.end();
  } catch {
    res.destroy();
  } finally {
    abort.signal.removeEventListener('abort', cancel);
  }
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function toRequest(req: IncomingMessage, signal: AbortSignal): Request {
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  const url = `http://${req.headers.host ?? '127.0.0.1'}${req.url ?? '/'}`;
  const method = req.method ?? 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  return new Request(url, {
    method,
    headers,
    signal,
    ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: 'half' } : {}),
  } as RequestInit);
}
