/**
 * Structured logs: one JSON object per line (`time`, `level`, `msg`, then the context fields: `investigationId`,
 * `phase`, `activity`, `node`, ...), so that a log query can follow one investigation through its phases. In Azure the
 * lines go to the invocation's logger and land in Application Insights as traces (`functionsLogSink`); `serve` and the
 * CLI write them to stderr.
 *
 * Every line passes through `redact` before it is written: the values of secret settings and anything shaped like a
 * credential (SAS signatures, account keys, bearer tokens, passwords in URLs) never reach a log.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type LogValue = string | number | boolean | null;

/** Context carried by every line of a logger and its children. */
export interface LogFields {
  readonly investigationId?: string;
  readonly phase?: string;
  readonly activity?: string;
  readonly node?: string;
  readonly cluster?: string;
  readonly [field: string]: LogValue | undefined;
}

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger whose lines also carry `fields` (a child's own fields win). */
  child(fields: LogFields): Logger;
}

/** Where lines go: the level (for sinks with one call per level) and the finished JSON line. */
export type LogSink = (level: LogLevel, line: string) => void;

export interface LoggerOptions {
  /** Secret values to blank out wherever they appear (settings marked secret, keys, tokens). */
  readonly secrets?: readonly string[];
  readonly now?: () => Date;
  /** Lines below this level are dropped. Default info. */
  readonly level?: LogLevel;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
export const REDACTED = '[redacted]';

/** Credential shapes, whatever their source: the value part is replaced, the name kept (so a reader knows what was there). */
const PATTERNS: ReadonlyArray<[RegExp, string]> = [
  // SAS query parameters: the signature, and the user-delegation key fields.
  [/([?&](?:sig|skoid|sktid|skt|ske|sks|skv|code|alertSecret)=)[^&\s"'<>]+/gi, `$1${REDACTED}`],
  // Connection strings: AccountKey=, SharedAccessSignature=, SharedAccessKey=, Password=.
  [/((?:AccountKey|SharedAccessSignature|SharedAccessKey|Password)=)[^;\s"']+/gi, `$1${REDACTED}`],
  // Authorization headers and tokens.
  [/(\bBearer\s+)[A-Za-z0-9\-._~+/]+=*/g, `$1${REDACTED}`],
  // Credentials in URLs: https://user:password@host.
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:)[^@\s/]+@/gi, `$1${REDACTED}@`],
];

/** `text` with every known secret value and every credential-shaped substring replaced. */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  // Longest first, so that a secret containing another is replaced whole.
  for (const secret of [...secrets].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length)) {
    out = out.split(secret).join(REDACTED);
  }
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

export function createLogger(sink: LogSink, base: LogFields = {}, options: LoggerOptions = {}): Logger {
  const secrets = options.secrets ?? [];
  const now = options.now ?? (() => new Date());
  const threshold = ORDER[options.level ?? 'info'];
  const write = (level: LogLevel, msg: string, fields: LogFields | undefined): void => {
    if (ORDER[level] < threshold) return;
    const record: Record<string, LogValue> = { time: now().toISOString(), level, msg };
    for (const [key, value] of Object.entries({ ...base, ...fields })) {
      if (value !== undefined && !(key in record)) record[key] = value;
    }
    sink(level, redact(JSON.stringify(record), secrets));
  };
  return {
    debug: (msg, fields) => write('debug', msg, fields),
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
    child: (fields) => createLogger(sink, { ...base, ...fields }, options),
  };
}

/** Lines to a stream (stderr for `serve` and the CLI). */
export function streamLogSink(stream: { write(text: string): unknown }): LogSink {
  return (_level, line) => {
    stream.write(`${line}\n`);
  };
}

/** The Functions invocation's logger (Application Insights traces, with the level as severity). */
export function functionsLogSink(context: {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}): LogSink {
  return (level, line) => {
    context[level](line);
  };
}

/** A logger that drops everything (tests, library callers that pass none). */
export const silentLogger: Logger = createLogger(() => {});

/**
 * `logger` with `secrets` blanked out of every message and field before it gets them: for a component handed a
 * logger it did not build (`serve`), which knows secrets its caller may not have passed.
 */
export function withSecrets(logger: Logger, secrets: readonly string[]): Logger {
  if (secrets.length === 0) return logger;
  const clean = (fields: LogFields | undefined): LogFields | undefined => {
    if (fields === undefined) return undefined;
    const out: Record<string, LogValue | undefined> = {};
    for (const [key, value] of Object.entries(fields))
      out[key] = typeof value === 'string' ? redact(value, secrets) : value;
    return out;
  };
  return {
    debug: (msg, fields) => logger.debug(redact(msg, secrets), clean(fields)),
    info: (msg, fields) => logger.info(redact(msg, secrets), clean(fields)),
    warn: (msg, fields) => logger.warn(redact(msg, secrets), clean(fields)),
    error: (msg, fields) => logger.error(redact(msg, secrets), clean(fields)),
    child: (fields) => withSecrets(logger.child(clean(fields) ?? {}), secrets),
  };
}
