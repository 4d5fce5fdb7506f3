/** `inteli-sysadmin backends list`. */
import type { BackendInfo } from '../admin-results.js';
import type { CliCommand } from '../cli-command.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS } from '../connection-settings.js';
import { formatTable } from '../format-table.js';
import { withSysAdmin } from '../remote-command.js';

function targets(backend: BackendInfo): string {
  return backend.targets.map((target) => `${target.protocol}://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`).join(',');
}

function rules(backend: BackendInfo): string {
  return backend.rules.map((rule) => (rule.host === undefined ? rule.path : `${rule.host}${rule.path}`)).join(',');
}

/** Lists the registered backends. */
export const backendsListCommand: CliCommand = {
  name: 'backends list',
  summary: 'List the live backends with their rules, targets and state',
  help: ['Usage: inteli-sysadmin backends list [connection options]', '', CONNECTION_HELP].join('\n'),
  options: { ...CONNECTION_OPTIONS },
  positionals: { min: 0, max: 0, names: 'no arguments' },
  async run(context) {
    const backends = await withSysAdmin(context, (admin) => admin.listBackends());
    const rows = backends.map((backend) => [
      backend.agentId,
      backend.state,
      rules(backend),
      targets(backend),
      String(backend.weight),
      new Date(backend.registeredAt).toISOString(),
      backend.id,
    ]);
    return {
      // Every timestamp a CLI prints in --json is ISO 8601, like the keys' createdAt (the wire has epoch ms).
      data: { backends: backends.map((backend) => ({ ...backend, registeredAt: new Date(backend.registeredAt).toISOString() })) },
      text: backends.length === 0 ? 'no registered backends' : formatTable(['AGENT', 'STATE', 'RULES', 'TARGETS', 'WEIGHT', 'SINCE', 'BACKEND'], rows),
    };
  },
};
