/** `inteli-sysadmin backends undrain <agent-id>`. */
import { assertValidAgentId } from '../../shared/identity/agent-id.js';
import type { CliCommand } from '../cli-command.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS } from '../connection-settings.js';
import { withSysAdmin } from '../remote-command.js';

/** Undoes `backends drain`: the agent's backends take new requests again. */
export const backendsUndrainCommand: CliCommand = {
  name: 'backends undrain',
  summary: 'Undo "backends drain": the agent takes new requests again',
  help: [
    'Usage: inteli-sysadmin backends undrain <agent-id> [connection options]',
    '',
    'Routes new requests to every backend of the agent again (unless its own health check reports its',
    'target unhealthy), and tells the agent (an event it logs). Undraining an agent that is not drained',
    'changes nothing.',
    '',
    CONNECTION_HELP,
  ].join('\n'),
  options: { ...CONNECTION_OPTIONS },
  positionals: { min: 1, max: 1, names: '<agent-id>' },
  async run(context) {
    const agentId = assertValidAgentId(context.positionals[0]);
    const result = await withSysAdmin(context, (admin) => admin.undrainBackend(agentId));
    const count = result.backendIds.length;
    return {
      data: { agentId, backendIds: result.backendIds },
      text: `undrained agent "${agentId}": ${count} backend${count === 1 ? '' : 's'} (${result.backendIds.join(', ')}) take new requests again`,
    };
  },
};
