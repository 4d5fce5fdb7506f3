/**
 * pino logging. One root logger per process; every component takes a child
 * (`logger.child({ component: 'control-plane' })`). Authorization headers, tokens and key material are
 * redacted wherever they appear at the first two levels of a log object, so a careless log call cannot
 * leak a credential.
 */
import { createRequire } from 'node:module';
import { pino, type Logger, type DestinationStream } from 'pino';
import type PinoPrettyModule from 'pino-pretty';
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
  /**
   * `pretty` for people at a terminal (coloured when `colorize`, local times, the component first), `json`
   * for machines (one object a line). Default `json`. Redaction applies to both.
   */
  format?: 'json' | 'pretty';
  /** Colours in `pretty` output. Default true when the destination is stdout on a colour terminal. */
  colorize?: boolean;
}

/**
 * pino-pretty, loaded on first use only: a backend importing `inteli-proxy/agent` (which logs through
 * this module) should not load a formatter and its dependencies it never uses. It is CommonJS, so a
 * synchronous require keeps `createLogger` synchronous.
 */
function loadPinoPretty(): typeof PinoPrettyModule {
  return createRequire(import.meta.url)('pino-pretty') as typeof PinoPrettyModule;
}

function prettyStream(options: LoggerOptions): DestinationStream {
  const PinoPretty = loadPinoPretty();
  return PinoPretty({
    // Synchronous, so that a line logged just before exit is written, as pino's own stdout stream does.
    sync: true,
    colorize: options.colorize ?? (options.destination === undefined && process.stdout.isTTY === true && PinoPretty.isColorSupported),
    translateTime: 'SYS:HH:MM:ss.l',
    // One line per event: a terminal scrolls, and multi-line objects drown the messages.
    singleLine: true,
    ignore: 'pid,hostname,name,component',
    messageFormat: '{if component}[{component}] {end}{msg}',
    ...(options.destination === undefined ? {} : { destination: options.destination as unknown as NodeJS.WritableStream }),
  });
}

/** Creates the root logger with redaction. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const settings = {
    level: options.level ?? 'info',
    base: { name: 'inteli-proxy' },
    redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
  };
  if (options.format === 'pretty') return pino(settings, prettyStream(options));
  return options.destination === undefined ? pino(settings) : pino(settings, options.destination);
}

/** A logger that writes nothing: the default for embedded use and tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
