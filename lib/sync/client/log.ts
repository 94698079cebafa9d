/** Where the sync client writes its log lines. Fields are plain data (they may cross to another thread). */
export interface ClientLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Logs to the console with a `[lockstep]` prefix, from `level` up. */
export function consoleLogger(level: LogLevel = 'info'): ClientLogger {
  const at = (l: LogLevel, write: (...args: unknown[]) => void) => (message: string, fields?: Record<string, unknown>) => {
    if (ORDER[l] < ORDER[level]) return;
    if (fields) write(`[lockstep] ${message}`, fields);
    else write(`[lockstep] ${message}`);
  };
  return { debug: at('debug', console.debug), info: at('info', console.info), warn: at('warn', console.warn), error: at('error', console.error) };
}

export const silentLogger: ClientLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** A logger that keeps lines in memory (tests assert on them). */
export function memoryLogger(): ClientLogger & { lines: Array<{ level: LogLevel; message: string; fields?: Record<string, unknown> }> } {
  const lines: Array<{ level: LogLevel; message: string; fields?: Record<string, unknown> }> = [];
  const at = (level: LogLevel) => (message: string, fields?: Record<string, unknown>) => void lines.push({ level, message, ...(fields ? { fields } : {}) });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Wall-clock ms with sub-ms precision, comparable across the page and its workers (for timing lines in the debug log). */
export function epochMs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 10) / 10;
}
