/** `inteli-sysadmin keys list`. */
import type { CliCommand } from '../cli-command.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS } from '../connection-settings.js';
import { formatTable } from '../format-table.js';
import { withSysAdmin } from '../remote-command.js';

/** Lists the trusted keys. */
export const keysListCommand: CliCommand = {
  name: 'keys list',
  summary: 'List the trusted keys with role, scope and live sessions',
  help: ['Usage: inteli-sysadmin keys list [connection options]', '', CONNECTION_HELP].join('\n'),
  options: { ...CONNECTION_OPTIONS },
  positionals: { min: 0, max: 0, names: 'no arguments' },
  async run(context) {
    const keys = await withSysAdmin(context, (admin) => admin.listKeys());
    const rows = keys.map((key) => [
      key.id,
      key.role,
      String(key.sessions),
      key.role === 'admin' ? '-' : (key.scope.rules?.join(',') ?? '(none)'),
      key.role === 'admin' ? '-' : (key.scope.hosts?.join(',') ?? '(own address)'),
      key.fingerprint,
      key.createdAt,
    ]);
    return {
      data: { keys },
      text: keys.length === 0 ? 'no trusted keys' : formatTable(['ID', 'ROLE', 'SESSIONS', 'RULES', 'HOSTS', 'FINGERPRINT', 'CREATED'], rows),
    };
  },
};
