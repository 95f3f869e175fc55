import type { LoggerService, LogLevel } from '@nestjs/common';
import { pino, type Level, type Logger } from 'pino';

/** LOG_LEVEL's values (the services' config schemas check them); anything else reads as `info`. */
const pinoLevels = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** The level of a service's JSON logs: `LOG_LEVEL`, else `info`. */
export function logLevelOf(env: Record<string, string | undefined> = process.env): Level | 'silent' {
  const raw = env.LOG_LEVEL?.trim().toLowerCase();
  return raw && pinoLevels.has(raw) ? (raw as Level | 'silent') : 'info';
}

/** Nest's `log` level is its bootstrap chatter (modules, routes): debug, so LOG_LEVEL=info shows Nest's warnings and errors only. */
const nestToPino: Record<LogLevel, Level> = {
  fatal: 'fatal',
  error: 'error',
  warn: 'warn',
  log: 'debug',
  debug: 'debug',
  verbose: 'trace',
};

/**
 * Nest's own log lines (bootstrap, route mapping, errors Nest catches) as JSON lines on the
 * service's pino logger, so a log pipeline reads one format. Nest passes the context name last
 * (and an error's stack before it); they become `context` and `stack` fields.
 */
export class JsonNestLogger implements LoggerService {
  readonly #logger: Logger;
  #nestLevels: ReadonlySet<LogLevel> | undefined;

  /** `nestLevels`: only these of Nest's levels are written (the services' `['error', 'warn']`); unset: all, at the logger's level. */
  constructor(logger: Logger, nestLevels?: readonly LogLevel[]) {
    this.#logger = logger;
    this.#nestLevels = nestLevels ? new Set(nestLevels) : undefined;
  }

  static forService(
    service: string,
    options: { level?: Level | 'silent'; nestLevels?: readonly LogLevel[] } = {},
  ): JsonNestLogger {
    return new JsonNestLogger(pino({ name: service, level: options.level ?? logLevelOf() }), options.nestLevels);
  }

  log(message: unknown, ...rest: unknown[]): void {
    this.#write('log', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.#write('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.#write('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.#write('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.#write('verbose', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.#write('fatal', message, rest);
  }
  setLogLevels(levels: LogLevel[]): void {
    this.#nestLevels = new Set(levels);
  }

  #write(level: LogLevel, message: unknown, rest: unknown[]): void {
    if (this.#nestLevels && !this.#nestLevels.has(level)) return;
    const params = [...rest];
    const context = params.length > 0 && typeof params.at(-1) === 'string' ? (params.pop() as string) : undefined;
    const stack = level === 'error' && typeof params[0] === 'string' ? (params.shift() as string) : undefined;
    const fields: Record<string, unknown> = {
      nest: true,
      ...(context ? { context } : {}),
      ...(stack ? { stack } : {}),
    };
    const pinoLevel = nestToPino[level];
    if (message instanceof Error) {
      this.#logger[pinoLevel]({ ...fields, error: message.name, stack: stack ?? message.stack }, message.message);
    } else if (typeof message === 'object' && message !== null) {
      this.#logger[pinoLevel]({ ...fields, detail: message }, context ?? level);
    } else {
      this.#logger[pinoLevel](fields, String(message));
    }
  }
}
