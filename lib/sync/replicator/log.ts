/** Structured logs: one JSON object per line on stdout (stderr for warnings and errors). */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A logger writing JSON lines; LOCKSTEP_LOG_LEVEL (default info) filters them. */
export function createLogger(base: LogFields = {}, level: LogLevel = (process.env.LOCKSTEP_LOG_LEVEL as LogLevel | undefined) ?? 'info'): Logger {
  const min = ORDER[level] ?? ORDER.info;
  const write = (lvl: LogLevel, message: string, fields?: LogFields) => {
    if (ORDER[lvl] < min) return;
    const line = JSON.stringify({ time: new Date().toISOString(), level: lvl, msg: message, ...base, ...fields }, errorReplacer);
    (lvl === 'warn' || lvl === 'error' ? process.stderr : process.stdout).write(`${line}\n`);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (fields) => createLogger({ ...base, ...fields }, level),
  };
}

/** A logger that drops everything (tests that assert on state, not logs). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silentLogger };

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const { code } = value as { code?: unknown };
    return { name: value.name, message: value.message, ...(code === undefined ? {} : { code }), ...(value.cause === undefined ? {} : { cause: String(value.cause) }) };
  }
  return typeof value === 'bigint' ? value.toString() : value;
}
