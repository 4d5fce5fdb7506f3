/** `inteli-sysadmin fleet list`. */
import type { CliCommand } from '../cli-command.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS } from '../connection-settings.js';
import { formatTable } from '../format-table.js';
import { withSysAdmin } from '../remote-command.js';

/** Lists the proxies of the fleet, as the proxy it connects to sees them. */
export const fleetListCommand: CliCommand = {
  name: 'fleet list',
  summary: 'List the proxies sharing this trust (Redis), with their addresses and pins',
  help: [
    'Usage: inteli-sysadmin fleet list [--json] [connection options]',
    '',
    'Asks the proxy for the fleet it sees in Redis (PROXY_REDIS_URL); a proxy running on its own lists only itself.',
    '',
    CONNECTION_HELP,
  ].join('\n'),
  options: { ...CONNECTION_OPTIONS },
  positionals: { min: 0, max: 0, names: 'no arguments' },
  async run(context) {
    const fleet = await withSysAdmin(context, (admin) => admin.listFleet());
    const rows = fleet.nodes.map((node) => [node.self ? `${node.id} *` : node.id, node.startedAt, node.addresses.join(','), node.pin ?? '-']);
    const trust = fleet.trust.ok ? `trust: ${fleet.trust.kind}, ok` : `trust: ${fleet.trust.kind}, NOT OK (${fleet.trust.reason ?? 'unknown'})`;
    const heading = fleet.shared ? `${fleet.nodes.length} proxies share this trust (* = the one answering); ${trust}` : `this proxy runs on its own (no PROXY_REDIS_URL); ${trust}`;
    return {
      data: { fleet },
      text: `${heading}\n${formatTable(['NODE', 'STARTED', 'ADDRESSES', 'PIN'], rows)}`,
    };
  },
};
