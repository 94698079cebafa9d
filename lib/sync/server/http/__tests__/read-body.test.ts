import { describe, expect, it } from 'vitest';
import { streamRequestSchema } from '@/lib/sync/protocol';
import { parseBody, readJsonBody } from '../read-body';

async function codeOf(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
    return undefined;
  } catch (error: unknown) {
    return (error as { code?: unknown }).code;
  }
}

const post = (body: BodyInit, headers: Record<string, string> = { 'content-type': 'application/json' }) => new Request('http://x/', { method: 'POST', body, headers, duplex: 'half' } as RequestInit);

describe('readJsonBody', () => {
  it('parses JSON, with or without a charset', async () => {
    expect(await readJsonBody(post('{"a":1}'))).toEqual({ a: 1 });
    expect(await readJsonBody(post('{"a":1}', { 'content-type': 'application/json; charset=utf-8' }))).toEqual({ a: 1 });
  });

  it('refuses other media types, empty bodies and broken JSON', async () => {
    expect(await codeOf(() => readJsonBody(post('{}', { 'content-type': 'text/plain' })))).toBe('REQUEST_CONTENT_TYPE');
    expect(await codeOf(() => readJsonBody(post('   ')))).toBe('REQUEST_BODY_MALFORMED');
    expect(await codeOf(() => readJsonBody(post('{"a":')))).toBe('REQUEST_BODY_MALFORMED');
  });

  it('stops reading a streamed body as soon as it passes the limit', async () => {
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(1024));
      },
    });
    expect(await codeOf(() => readJsonBody(post(endless), 10 * 1024))).toBe('REQUEST_BODY_TOO_LARGE');
    expect(pulled).toBeLessThan(20);
  });

  it('refuses by Content-Length before reading', async () => {
    const request = new Request('http://x/', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', 'content-length': '999999999' } });
    expect(await codeOf(() => readJsonBody(request, 1000))).toBe('REQUEST_BODY_TOO_LARGE');
  });
});

describe('parseBody', () => {
  it('names the first invalid field and lists every issue', async () => {
    try {
      parseBody(streamRequestSchema, { client_id: '', buckets: [{ name: 'x', after: 'x' }] });
      expect.unreachable();
    } catch (error: unknown) {
      const e = error as { code: string; message: string; details: { field: string; issues: Array<{ path: string }> } };
      expect(e.code).toBe('REQUEST_BODY_INVALID');
      expect(e.details.field).toBe('client_id');
      expect([...new Set(e.details.issues.map((i) => i.path))]).toEqual(['client_id', 'buckets[0].after']);
      expect(e.message).toMatch(/^Invalid request body at client_id: /);
    }
  });
});
