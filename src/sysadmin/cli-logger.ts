/**
 * The CLI's logger: warnings and errors of the client (an insecure connection, a private key file
 * readable by others) become one human line on stderr each, instead of pino JSON. Secrets are redacted
 * by the shared logger before a line gets here, and only the message is printed.
 */
import { createLogger, type Logger } from '../shared/logger.js';
import type { CliIo } from './cli-command.js';
import { printable } from './format-table.js';

function messageOf(line: string): string {
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { msg?: unknown }).msg === 'string') {
      return (parsed as { msg: string }).msg;
    }
  } catch {
    // Not JSON: print it as it is.
  }
  return line;
}

/** A logger that prints warnings and errors as `inteli-sysadmin: warning: <message>` on `io.stderr`. */
export function createCliLogger(io: CliIo): Logger {
  return createLogger({
    level: 'warn',
    destination: {
      write(line: string): void {
        io.stderr.write(`inteli-sysadmin: warning: ${printable(messageOf(line)).trim()}\n`);
      },
    },
  });
}
