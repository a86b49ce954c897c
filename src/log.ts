/**
 * Structured logging: one JSON object per line, so CloudWatch Logs Insights can
 * filter on `level`, `route`, `connectionId` and `error.name`.
 */
type Level = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function threshold(): number {
  const wanted = (process.env.LOG_LEVEL ?? 'info').toLowerCase();
  return wanted in order ? order[wanted as Level] : order.info;
}

/** Errors are not JSON-serializable; keep what helps to debug, follow `cause` a few levels. */
export function describeError(error: unknown, depth = 0): unknown {
  if (!(error instanceof Error)) return error;
  const extra: LogFields = {};
  for (const key of ['code', 'operation', 'connectionId', 'statusCode', 'retryable', 'secretId']) {
    const value = (error as unknown as Record<string, unknown>)[key];
    if (value !== undefined) extra[key] = value;
  }
  const httpStatus = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (httpStatus !== undefined) extra.httpStatusCode = httpStatus;
  return {
    name: error.name,
    message: error.message,
    ...extra,
    ...(error.cause !== undefined && depth < 3 ? { cause: describeError(error.cause, depth + 1) } : {}),
  };
}

function write(level: Level, message: string, fields: LogFields): void {
  if (order[level] < threshold()) return;
  const entry: LogFields = { level, time: new Date().toISOString(), message };
  for (const [key, value] of Object.entries(fields)) {
    entry[key] = key === 'error' ? describeError(value) : value;
  }
  const line = JSON.stringify(entry);
  if (level === 'error' || level === 'warn') console.error(line);
  else console.log(line);
}

export const log = {
  debug: (message: string, fields: LogFields = {}) => write('debug', message, fields),
  info: (message: string, fields: LogFields = {}) => write('info', message, fields),
  warn: (message: string, fields: LogFields = {}) => write('warn', message, fields),
  error: (message: string, fields: LogFields = {}) => write('error', message, fields),
};
