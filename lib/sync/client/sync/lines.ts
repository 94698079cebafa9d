import { OP_ID_PATTERN, syncLineSchema, type DataLine, type SyncLine } from '@/lib/sync/protocol';
import { ClientErrorCode, SyncClientError } from '../errors';

/**
 * Parses one line of the stream. `data` lines (nearly all of a large download) are checked by
 * hand against the same rules as lib/sync/protocol's dataLineSchema, which costs a third of a
 * zod parse per op; every other line goes through the zod schema.
 */
export function parseLine(text: string): SyncLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error: unknown) {
    throw bad(`a line is not JSON (${text.length > 80 ? `${text.slice(0, 80)}…` : text})`, error);
  }
  if (isObject(value) && value.type === 'data') {
    const problem = dataLineProblem(value);
    if (problem) throw bad(`a data line is malformed: ${problem}`);
    return value as DataLine;
  }
  const parsed = syncLineSchema.safeParse(value);
  if (!parsed.success) throw bad(`a line does not match the protocol: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

function bad(message: string, cause?: unknown): SyncClientError {
  return new SyncClientError(ClientErrorCode.protocol, `The sync stream broke the protocol: ${message}.`, cause === undefined ? undefined : { cause });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isOpId(v: unknown): boolean {
  return typeof v === 'string' && OP_ID_PATTERN.test(v) && (v.length < 16 || Number(v) <= Number.MAX_SAFE_INTEGER);
}

const OPS = new Set(['PUT', 'REMOVE', 'MOVE', 'CLEAR']);

function nullableString(v: unknown): boolean {
  return v === null || typeof v === 'string';
}

/** Why `line` is not a valid data line, or undefined when it is. */
export function dataLineProblem(line: Record<string, unknown>): string | undefined {
  if (typeof line.bucket !== 'string') return 'bucket';
  if (!isOpId(line.after)) return 'after';
  if (!isOpId(line.next_after)) return 'next_after';
  if (typeof line.has_more !== 'boolean') return 'has_more';
  const ops = line.ops;
  if (!Array.isArray(ops)) return 'ops';
  for (let i = 0; i < ops.length; i++) {
    const op: unknown = ops[i];
    if (!isObject(op)) return `ops.${i}`;
    if (!isOpId(op.op_id)) return `ops.${i}.op_id`;
    if (typeof op.op !== 'string' || !OPS.has(op.op)) return `ops.${i}.op`;
    if (!nullableString(op.table)) return `ops.${i}.table`;
    if (!nullableString(op.row_id)) return `ops.${i}.row_id`;
    if (!nullableString(op.data)) return `ops.${i}.data`;
    const c = op.checksum;
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c > 0xffff_ffff) return `ops.${i}.checksum`;
  }
  return undefined;
}
