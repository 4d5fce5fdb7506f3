/** `inteli-sysadmin keys remove <id>`. */
import { assertValidAgentId } from '../../shared/identity/agent-id.js';
import type { CliCommand } from '../cli-command.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS } from '../connection-settings.js';
import { withSysAdmin } from '../remote-command.js';

/** Removes a key; the proxy disconnects its live sessions at once. */
export const keysRemoveCommand: CliCommand = {
  name: 'keys remove',
  summary: 'Remove a key; its live backends are disconnected at once',
  help: ['Usage: inteli-sysadmin keys remove <id> [connection options]', '', CONNECTION_HELP].join('\n'),
  options: { ...CONNECTION_OPTIONS },
  positionals: { min: 1, max: 1, names: '<id>' },
  async run(context) {
    const id = assertValidAgentId(context.positionals[0]);
    const result = await withSysAdmin(context, (admin) => admin.removePublicKey(id));
    return {
      data: result,
      text: `removed key "${result.keyId}"; closed ${result.closedSessions} live session${result.closedSessions === 1 ? '' : 's'}`,
    };
  },
};
