/**
 * pino logging. One root logger per process; every component takes a child
 * (`logger.child({ component: 'control-plane' })`). Authorization headers, tokens and key material are
 * redacted wherever they appear at the first two levels of a log object, so a careless log call cannot
 * leak a credential.
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import type { LogLevel } from './env.js';

export type { Logger } from 'pino';

/** Paths pino censors in every log line. */
export const REDACTED_PATHS: readonly string[] = Object.freeze([
  'authorization',
  'token',
  'jwt',
  'privateKey',
  'key',
  'd',
  'headers.authorization',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  '*.authorization',
  '*.token',
  '*.jwt',
  '*.privateKey',
  '*.key',
  '*.d',
]);

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Minimum level. Default `info`. */
  level?: LogLevel;
  /** Where lines go. Default stdout. */
  destination?: DestinationStream;
}

/** Creates the root logger with redaction. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const settings = {
    level: options.level ?? 'info',
    base: { name: 'inteli-proxy' },
    redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
  };
  return options.destination === undefined ? pino(settings) : pino(settings, options.destination);
}

/** A logger that writes nothing: the default for embedded use and tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
