/** `inteli-sysadmin init [--certstore DIR] [--out DIR] [--id ID]`. */
import type { CliCommand } from '../cli-command.js';
import { DEFAULT_ADMIN_ID, DEFAULT_INIT_CERTSTORE, DEFAULT_INIT_OUT, initAdmin, type InitAdminOptions } from '../../shared/trust/init-admin.js';

/** Creates the first admin key pair and trusts it in the local trust store, offline. */
export const initCommand: CliCommand = {
  name: 'init',
  summary: 'Create an admin key pair and trust it in the local certstore (offline)',
  help: [
    'Usage: inteli-sysadmin init [--certstore DIR] [--out DIR] [--id ID] [--json]',
    '',
    'Creates <id>.key.json (private, mode 0600) and <id>.pub.json in --out, and trusts the public key with',
    'role admin in DIR/trust-store.json. Works without a running proxy (also to regain access when every',
    'admin key is lost); a running proxy that watches its certstore picks the key up at once. Refuses to',
    'overwrite a key file or an id the store already trusts. --out must lie outside the certstore.',
    '',
    'Options:',
    `  --certstore DIR  trust store directory (default ${DEFAULT_INIT_CERTSTORE}, the proxy's PROXY_CERTSTORE default)`,
    `  --out DIR        where to write the key pair (default ${DEFAULT_INIT_OUT})`,
    `  --id ID          admin key id (default ${DEFAULT_ADMIN_ID})`,
    '  --json           print {id, privatePath, publicPath, fingerprint, trustStore} as JSON',
  ].join('\n'),
  options: { certstore: { type: 'string' }, out: { type: 'string', short: 'o' }, id: { type: 'string' } },
  positionals: { min: 0, max: 0, names: 'no arguments' },
  async run({ values }) {
    const options: InitAdminOptions = {};
    if (typeof values.certstore === 'string') options.certstore = values.certstore;
    if (typeof values.out === 'string') options.out = values.out;
    if (typeof values.id === 'string') options.id = values.id;
    const created = await initAdmin(options);
    return {
      data: created,
      text: [
        `admin key "${created.id}" created and trusted with role admin`,
        `private key: ${created.privatePath} (mode 0600, keep it secret)`,
        `public key:  ${created.publicPath}`,
        `fingerprint: ${created.fingerprint}`,
        `trust store: ${created.trustStore}`,
        `next: inteli-sysadmin keys list --id ${created.id} --key ${created.privatePath} --pin <the pin the proxy prints at start>`,
      ].join('\n'),
    };
  },
};
