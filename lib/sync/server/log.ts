/** Where the sync server reports what clients never see: failures, misbehaving storage, lag. */
export interface SyncServerLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

function write(level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void {
  const line = JSON.stringify({ time: new Date().toISOString(), level, msg: message, component: 'sync-server', ...fields }, (_key, value: unknown) =>
    value instanceof Error ? { name: value.name, message: value.message, code: (value as { code?: unknown }).code, cause: value.cause === undefined ? undefined : String(value.cause) } : value,
  );
  (level === 'info' ? process.stdout : process.stderr).write(`${line}\n`);
}

/** JSON lines on stdout (info) and stderr (warn, error). */
export const consoleLogger: SyncServerLogger = {
  info: (message, fields) => write('info', message, fields),
  warn: (message, fields) => write('warn', message, fields),
  error: (message, fields) => write('error', message, fields),
};

/** Drops everything; for tests and benchmarks. */
export const silentServerLogger: SyncServerLogger = { info() {}, warn() {}, error() {} };
