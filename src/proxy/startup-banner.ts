/**
 * The few lines `npm start` prints on a terminal once the proxy is up: where it listens, the pin agents
 * verify it with, and the sysadmin command that works from here without flags. It is for a person
 * reading a terminal; the same facts are in the JSON `inteli-proxy is running` log line for machines.
 */
import type { AddressInfo } from 'node:net';

/** What the banner shows. */
export interface StartupBannerInput {
  readonly addresses: Readonly<Record<'http' | 'https' | 'control' | 'admin', AddressInfo | undefined>>;
  /** Base64 SHA-256 pin of the control plane's certificate public key. */
  readonly pin: string | undefined;
  /** Data-plane worker processes. */
  readonly workers: number;
  /** The record the sysadmin CLI reads (`keys/proxy.json`), when written. */
  readonly recordFile: string | undefined;
  /** The sysadmin command to suggest. */
  readonly sysadminCommand: string;
  /** True when this start created the admin key pair (its path is then shown). */
  readonly createdAdminKey: string | undefined;
}

function hostPort(address: AddressInfo): string {
  return address.family === 'IPv6' ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
}

/** Formats the banner, ending with a newline. */
export function formatStartupBanner(input: StartupBannerInput): string {
  const { http, https, control, admin } = input.addresses;
  const rows: [string, string][] = [];
  if (http !== undefined) rows.push(['HTTP', `http://${hostPort(http)}`]);
  if (https !== undefined) rows.push(['HTTPS', `https://${hostPort(https)}`]);
  if (control !== undefined) rows.push(['control', `wss://${hostPort(control)}  (agents connect here)`]);
  if (admin !== undefined) rows.push(['status', `http://${hostPort(admin)}/  (status page, /metrics, /healthz)`]);
  if (input.pin !== undefined) rows.push(['pin', input.pin]);
  if (input.workers > 1) rows.push(['workers', String(input.workers)]);
  const lines = ['', `inteli-proxy is running`, ...rows.map(([name, value]) => `  ${name.padEnd(8)} ${value}`), ''];
  if (input.createdAdminKey !== undefined) lines.push(`First start: created the admin key ${input.createdAdminKey}; keep it safe.`);
  lines.push(
    input.recordFile === undefined ? 'Manage keys and backends with:' : `Manage keys and backends with (it reads ${input.recordFile}):`,
    `  ${input.sysadminCommand}`,
    '',
  );
  return `${lines.join('\n')}\n`;
}
