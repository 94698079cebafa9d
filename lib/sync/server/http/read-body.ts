import * as z from 'zod/mini';
import { MediaType, SyncErrorCode, SyncHeader, SyncLimits, SyncProtocolError } from '@/lib/sync/protocol';

/**
 * Reads a JSON request body of at most `maxBytes`, counting bytes as they arrive: a body larger
 * than that is refused (413) from its Content-Length, or as soon as it grows past the limit,
 * without buffering the rest. Refuses other media types (415) and text that is not JSON (400).
 */
export async function readJsonBody(request: Request, maxBytes: number = SyncLimits.maxRequestBytes): Promise<unknown> {
  const type = request.headers.get(SyncHeader.contentType);
  if (type !== null && type.split(';')[0]!.trim().toLowerCase() !== MediaType.json) {
    throw new SyncProtocolError(SyncErrorCode.contentType, `The request body must be ${MediaType.json}, not "${type}".`);
  }
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  const text = await readText(request, maxBytes);
  if (text.trim() === '') throw new SyncProtocolError(SyncErrorCode.bodyMalformed, 'The request body is empty; send a JSON object.');
  try {
    return JSON.parse(text) as unknown;
  } catch (cause: unknown) {
    throw new SyncProtocolError(SyncErrorCode.bodyMalformed, `The request body is not valid JSON: ${(cause as Error).message}`, { cause });
  }
}

async function readText(request: Request, maxBytes: number): Promise<string> {
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return new TextDecoder('utf-8', { fatal: false }).decode(Buffer.concat(chunks));
}

function tooLarge(maxBytes: number): SyncProtocolError {
  return new SyncProtocolError(SyncErrorCode.bodyTooLarge, `The request body is larger than ${maxBytes} bytes.`, { details: { maxBytes } });
}

/**
 * Validates a parsed body against a protocol schema; a mismatch is REQUEST_BODY_INVALID (400)
 * whose message names the first offending field and whose details list every issue.
 *
 * @example
 *   const body = parseBody(streamRequestSchema, await readJsonBody(request));
 */
export function parseBody<S extends z.ZodMiniType>(schema: S, value: unknown): z.output<S> {
  const result = z.safeParse(schema, value);
  if (result.success) return result.data;
  const issues = result.error.issues.slice(0, 20).map((issue) => ({ path: fieldPath(issue.path), message: issue.message }));
  const first = issues[0]!;
  throw new SyncProtocolError(SyncErrorCode.bodyInvalid, `Invalid request body at ${first.path}: ${first.message}`, { details: { field: first.path, issues } });
}

/** `buckets[2].after` from ['buckets', 2, 'after']; `(body)` for the root. */
function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  if (path.length === 0) return '(body)';
  return path.map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`)).join('');
}
