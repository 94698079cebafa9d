/**
 * Gathers a stream's lines into the chunks handed to the HTTP layer: small lines are joined into
 * one chunk (one write, one syscall, for a checkpoint that changes a row), while a line of
 * `flushBytes` or more (a data page) goes out as its own chunk, as the very buffer it came in,
 * so a page shared by many streams is never copied per stream.
 */
export class LineChunks {
  private parts: Array<string | Uint8Array> = [];
  private size = 0;

  constructor(private readonly flushBytes: number) {}

  /** Lines as text (each ending in "\n"). */
  text(lines: string): void {
    if (lines.length === 0) return;
    this.parts.push(lines);
    this.size += lines.length;
  }

  /** Lines already encoded; returns the chunks now ready to send, in order (often none). */
  bytes(lines: Uint8Array): Uint8Array[] {
    if (lines.length === 0) return [];
    if (lines.length >= this.flushBytes) {
      const before = this.take();
      return before ? [before, lines] : [lines];
    }
    this.parts.push(lines);
    this.size += lines.length;
    if (this.size < this.flushBytes) return [];
    return [this.take()!];
  }

  /** Everything gathered, as one chunk; undefined when nothing is. */
  take(): Uint8Array | undefined {
    const parts = this.parts;
    if (parts.length === 0) return undefined;
    this.parts = [];
    this.size = 0;
    if (parts.length === 1) {
      const only = parts[0]!;
      return typeof only === 'string' ? Buffer.from(only, 'utf8') : only;
    }
    let length = 0;
    for (const part of parts) length += typeof part === 'string' ? Buffer.byteLength(part, 'utf8') : part.length;
    const chunk = Buffer.allocUnsafe(length);
    let offset = 0;
    for (const part of parts) {
      if (typeof part === 'string') offset += chunk.write(part, offset, 'utf8');
      else {
        chunk.set(part, offset);
        offset += part.length;
      }
    }
    return chunk;
  }
}
