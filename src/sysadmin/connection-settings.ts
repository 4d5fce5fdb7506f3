/**
 * The connection flags every remote command shares, and how flags and environment combine into
 * {@link ProxySysAdminOptions}: a flag wins over its variable; without either, the control URL and the pin
 * come from the record `npm start` writes beside the admin key (`keys/proxy.json`), and the other
 * defaults fit a proxy started with `npm start` on this machine and a key made by `inteli-sysadmin init`.
 */
import path from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import type { SysadminEnv } from '../shared/env.js';
import { InvalidOptionError } from '../shared/errors.js';
import { LOCAL_PROXY_FILE, readLocalProxyRecord } from '../shared/local-proxy-record.js';
import type { Logger } from '../shared/logger.js';
import { DEFAULT_ADMIN_ID, DEFAULT_INIT_OUT } from '../shared/trust/init-admin.js';
import type { ProxySysAdminOptions } from './sysadmin-options.js';

/** Default control-plane URL: the proxy's default control port on this machine. */
export const DEFAULT_CLI_PROXY_URL = 'wss://127.0.0.1:3042';

/** The connection options of `node:util` `parseArgs`. */
export const CONNECTION_OPTIONS = Object.freeze({
  proxy: { type: 'string' },
  id: { type: 'string' },
  key: { type: 'string' },
  pin: { type: 'string' },
  ca: { type: 'string' },
  insecure: { type: 'boolean' },
  timeout: { type: 'string' },
}) satisfies NonNullable<ParseArgsConfig['options']>;

/** Help lines of the connection options. */
export const CONNECTION_HELP = [
  'Connection (a flag wins over its environment variable):',
  `  --proxy URL     control-plane URL (env PROXY_WS_URL; default: from ${LOCAL_PROXY_FILE} beside the key, else ${DEFAULT_CLI_PROXY_URL})`,
  `  --id ID         admin key id (env INTELI_ADMIN_ID; default ${DEFAULT_ADMIN_ID})`,
  `  --key FILE      admin private key, <id>.key.json (env INTELI_ADMIN_KEY; default ${DEFAULT_INIT_OUT}/<id>.key.json)`,
  `  --pin PIN       SHA-256 pin of the proxy public key, as the proxy prints it (env INTELI_PROXY_PIN; default: from ${LOCAL_PROXY_FILE})`,
  '  --ca FILE       CA certificate that signed the proxy certificate (instead of --pin)',
  '  --insecure      do not verify the proxy (development only; allows ws://)',
  '  --timeout MS    wait for each answer, 10 to 600000 ms (default 10000)',
  '  --json          print one JSON document on stdout',
].join('\n');

type Values = Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;

function flag(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * Builds the client options from the parsed flags and the environment.
 *
 * @throws {InvalidOptionError} for a bad `--timeout`.
 */
export function connectionOptions(values: Values, env: SysadminEnv, logger: Logger): ProxySysAdminOptions {
  const adminId = flag(values, 'id') ?? env.adminId ?? DEFAULT_ADMIN_ID;
  const key = flag(values, 'key') ?? env.adminKey ?? path.join(DEFAULT_INIT_OUT, `${adminId}.key.json`);
  const ca = flag(values, 'ca');
  const insecure = values.insecure === true;
  const givenUrl = flag(values, 'proxy') ?? env.proxyUrl;
  // An explicit --ca or --insecure replaces the pin from the environment; --pin with either is refused.
  let pin = flag(values, 'pin') ?? (ca === undefined && !insecure ? env.pin : undefined);
  // The record of the proxy on this machine fills only what flags and environment leave unset, and its
  // pin only for its own URL: pinning another proxy with it would fail, and say nothing useful.
  const record = givenUrl === undefined || (pin === undefined && ca === undefined && !insecure) ? readLocalProxyRecord(path.dirname(key)) : undefined;
  const proxyUrl = givenUrl ?? record?.proxyUrl ?? DEFAULT_CLI_PROXY_URL;
  if (pin === undefined && ca === undefined && !insecure && record !== undefined && record.proxyUrl === proxyUrl) pin = record.pin;
  const options: ProxySysAdminOptions = { proxyUrl, adminId, key, logger };
  if (pin !== undefined) options.pin = pin;
  if (ca !== undefined) options.ca = ca;
  if (insecure) options.insecure = true;
  const timeout = flag(values, 'timeout');
  if (timeout !== undefined) {
    if (!/^\d{1,6}$/.test(timeout)) throw new InvalidOptionError(`--timeout: expected milliseconds from 10 to 600000, got ${JSON.stringify(timeout.slice(0, 20))}`);
    options.requestTimeoutMs = Number(timeout);
  }
  return options;
}
