/** `inteli-sysadmin backends drain <agent-id>`. */
import { assertValidAgentId } from '../../shared/identity/agent-id.js';
import type { CliCommand } from '../cli-command.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS } from '../connection-settings.js';
import { withSysAdmin } from '../remote-command.js';

/** Drains every backend of an agent. */
export const backendsDrainCommand: CliCommand = {
  name: 'backends drain',
  summary: 'Drain an agent: no new requests reach it, in-flight ones finish',
  help: [
    'Usage: inteli-sysadmin backends drain <agent-id> [connection options]',
    '',
    'Marks every backend of the agent draining: no new requests reach it, in-flight ones finish where',
    'they are. The backends stay registered (listed as draining, also after the agent reconnects) and',
    'the agent is told (an event it logs). "inteli-sysadmin backends undrain <agent-id>" routes it again.',
    '',
    CONNECTION_HELP,
  ].join('\n'),
  options: { ...CONNECTION_OPTIONS },
  positionals: { min: 1, max: 1, names: '<agent-id>' },
  async run(context) {
    const agentId = assertValidAgentId(context.positionals[0]);
    const result = await withSysAdmin(context, (admin) => admin.drainBackend(agentId));
    const count = result.backendIds.length;
    return {
      data: { agentId, backendIds: result.backendIds },
      text: `draining agent "${agentId}": ${count} backend${count === 1 ? '' : 's'} (${result.backendIds.join(', ')}); no new requests reach it`,
    };
  },
};
