/**
 * What every command that talks to a running proxy shares: build the client from flags and
 * environment, connect, run one request, always disconnect; and failures phrased for an operator (the
 * option names of the flags, a hint on what to check for the usual refusals).
 */
import { ControlError, InvalidOptionError, isProxyError } from '../shared/errors.js';
import type { CliContext } from './cli-command.js';
import { createCliLogger } from './cli-logger.js';
import { connectionOptions } from './connection-settings.js';
import { ProxySysAdmin } from './proxy-sysadmin.js';

/** API option names as the CLI spells them, for messages. */
const FLAG_NAMES: ReadonlyArray<readonly [RegExp, string]> = [
  [/^proxyUrl:/, '--proxy:'],
  [/^pin(\[\d+\])?:/, '--pin:'],
  [/^ca:/, '--ca:'],
  [/^requestTimeoutMs:/, '--timeout:'],
  [/^pin, ca and insecure are exclusive/, '--pin, --ca and --insecure are exclusive'],
];

function hint(error: ControlError, adminId: string, connecting: boolean): string | undefined {
  switch (error.code) {
    case 'RP_ERR_INVALID_KEY':
      return connecting ? 'pass --key FILE or set INTELI_ADMIN_KEY (inteli-sysadmin init makes a key)' : undefined;
    case 'RP_ERR_TLS':
      return 'check --pin, which the proxy prints at start, or --ca';
    case 'RP_ERR_UNAUTHORIZED':
      return `is the key "${adminId}" trusted by this proxy, and --key its private half?`;
    case 'RP_ERR_DISCONNECTED':
      return 'is the proxy running, and is --proxy its control-plane URL?';
    default:
      return undefined;
  }
}

/**
 * Connects with the settings of `context`, runs `task`, and disconnects.
 *
 * @throws {InvalidOptionError} (exit 2) for bad connection flags; {@link ControlError} otherwise.
 */
export async function withSysAdmin<T>(context: CliContext, task: (admin: ProxySysAdmin) => Promise<T>): Promise<T> {
  let admin: ProxySysAdmin;
  const options = connectionOptions(context.values, context.env(), createCliLogger(context.io));
  try {
    admin = new ProxySysAdmin(options);
  } catch (error) {
    if (!isProxyError(error) || error.code !== 'RP_ERR_INVALID_OPTION') throw error;
    const message = FLAG_NAMES.reduce((text, [pattern, flag]) => text.replace(pattern, flag), error.message);
    throw new InvalidOptionError(message, { cause: error });
  }
  let connecting = true;
  try {
    await admin.start();
    connecting = false;
    return await task(admin);
  } catch (error) {
    if (error instanceof ControlError) {
      const extra = hint(error, options.adminId, connecting);
      if (extra !== undefined) throw new ControlError(error.code, `${error.message}; ${extra}`, { cause: error });
    }
    throw error;
  } finally {
    await admin.stop();
  }
}
