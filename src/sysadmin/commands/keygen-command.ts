/** `inteli-sysadmin keygen <id> [--out DIR]`. */
import type { CliCommand } from '../cli-command.js';
import { writeKeyPair } from '../../shared/identity/write-key-pair.js';

/** Generates an agent key pair. */
export const keygenCommand: CliCommand = {
  name: 'keygen',
  summary: 'Generate an Ed25519 key pair for an agent id',
  help: [
    'Usage: inteli-sysadmin keygen <id> [--out DIR] [--json]',
    '',
    'Writes <id>.key.json (private, mode 0600; give it to the agent) and <id>.pub.json (public; add it to',
    'the proxy trust store). Never overwrites an existing file.',
    '',
    'Options:',
    '  --out DIR   directory to write into (default: the current directory)',
    '  --json      print {id, privatePath, publicPath, fingerprint} as JSON',
  ].join('\n'),
  options: { out: { type: 'string', short: 'o' } },
  positionals: { min: 1, max: 1, names: '<id>' },
  async run({ positionals, values }) {
    const id = positionals[0] as string;
    const out = typeof values.out === 'string' ? values.out : '.';
    const written = await writeKeyPair(id, out);
    return {
      data: { id, ...written },
      text: [
        `private key: ${written.privatePath} (mode 0600, keep it secret)`,
        `public key:  ${written.publicPath}`,
        `fingerprint: ${written.fingerprint}`,
      ].join('\n'),
    };
  },
};
