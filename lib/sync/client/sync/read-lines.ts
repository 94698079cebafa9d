/**
 * The lines of an NDJSON body, gathered per chunk: each item is every complete line that arrived
 * in one read, so the caller can store a burst of data lines in one transaction. A line split
 * over many chunks is joined once, not rescanned per chunk.
 */
export async function* readLines(body: ReadableStream<Uint8Array>, signal?: AbortSignal): AsyncGenerator<string[], void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let pending: string[] = [];
  try {
    for (;;) {
      if (signal?.aborted) return;
      const { value, done } = await reader.read();
      if (done) break;
      const chunk = decoder.decode(value, { stream: true });
      let start = 0;
      let newline = chunk.indexOf('\n');
      if (newline < 0) {
        if (chunk.length > 0) pending.push(chunk);
        continue;
      }
      const lines: string[] = [];
      while (newline >= 0) {
        const piece = chunk.slice(start, newline);
        const line = pending.length > 0 ? pending.join('') + piece : piece;
        pending = [];
        if (line.length > 0) lines.push(line);
        start = newline + 1;
        newline = chunk.indexOf('\n', start);
      }
      if (start < chunk.length) pending.push(chunk.slice(start));
      if (lines.length > 0) yield lines;
    }
    // A last line without its "\n" was cut off: it is dropped, never half-parsed.
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => {});
  }
}
