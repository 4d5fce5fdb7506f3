/** `inteli-sysadmin keys add <id> <pubfile> [--rule R]... [--host H]... [--any-host] [--role agent|admin] [--replace]`. */
import { InvalidOptionError } from '../../shared/errors.js';
import { assertValidAgentId } from '../../shared/identity/agent-id.js';
import type { KeyRole, KeyScope } from '../../shared/protocol.js';
import { parseKeyScope } from '../../shared/trust/key-scope.js';
import type { CliCommand } from '../cli-command.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS } from '../connection-settings.js';
import { loadPublicKey } from '../public-key-source.js';
import { firstUnregistrableRule } from '../scope-rules.js';
import { withSysAdmin } from '../remote-command.js';

function list(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

/** Trusts a public key on the running proxy. */
export const keysAddCommand: CliCommand = {
  name: 'keys add',
  summary: 'Trust a public key on the running proxy',
  help: [
    'Usage: inteli-sysadmin keys add <id> <pubfile> [--rule R]... [--host H]... [--any-host] [--role agent|admin] [--replace] [--no-rules]',
    '',
    '<pubfile> is a <id>.pub.json from "inteli-sysadmin keygen" or an Ed25519 SPKI PEM. The key takes effect',
    'at once: a waiting agent holding it gets in on its next retry.',
    '',
    'An agent key may register only the rules given with --rule; without any it could connect but register',
    'nothing, so an agent key without --rule is refused unless --no-rules says that is intended.',
    '',
    'Options:',
    '  --rule R        path prefix ("/api") or "host/path" the key may register; repeatable',
    '  --host H        host or CIDR its targets may point to; repeatable (default: the agent\'s own address)',
    '  --any-host      a rule without host ("/api") also allows host-bound rules below it ("a.example/api/x");',
    '                  without it a host-bound rule needs a --rule naming that host',
    '  --role ROLE     agent (default) or admin',
    '  --replace       replace an existing key with this id (its live sessions are closed)',
    '  --no-rules      add an agent key without rules (it may register nothing until replaced)',
    '',
    CONNECTION_HELP,
  ].join('\n'),
  options: {
    rule: { type: 'string', multiple: true },
    host: { type: 'string', multiple: true },
    'any-host': { type: 'boolean' },
    role: { type: 'string' },
    replace: { type: 'boolean' },
    'no-rules': { type: 'boolean' },
    ...CONNECTION_OPTIONS,
  },
  positionals: { min: 2, max: 2, names: '<id> <pubfile>' },
  async run(context) {
    const { positionals, values, io } = context;
    const id = assertValidAgentId(positionals[0]);
    const role = (values.role ?? 'agent') as KeyRole;
    if (role !== 'agent' && role !== 'admin') throw new InvalidOptionError(`--role: expected agent or admin, got ${JSON.stringify(String(values.role)).slice(0, 40)}`);
    const rules = list(values.rule);
    const hosts = list(values.host);
    const noRules = values['no-rules'] === true;
    if (noRules && rules.length > 0) throw new InvalidOptionError('--no-rules and --rule contradict each other');
    if (role === 'agent' && rules.length === 0 && !noRules) {
      throw new InvalidOptionError('an agent key without --rule may register nothing; give --rule /path (repeatable), or --no-rules to add it anyway');
    }
    // The proxy drops a scope rule its router could never match (`/api/*`, `/(x|y)`, `^/x.*`), so the key
    // would silently allow nothing; refuse it here with the parser registration uses, naming the rule.
    const unregistrable = firstUnregistrableRule(rules);
    if (unregistrable !== undefined) throw new InvalidOptionError(`--rule: ${unregistrable.reason}`);
    const scope: KeyScope = {};
    if (rules.length > 0) scope.rules = rules;
    if (hosts.length > 0) scope.hosts = hosts;
    if (values['any-host'] === true) scope.anyHost = true;
    // The scope and the key file are checked before connecting: a typo should not need a proxy to show.
    const checkedScope = parseKeyScope(scope) as KeyScope;
    const publicKey = await loadPublicKey(positionals[1] as string);
    const warnings: string[] = [];
    if (role === 'agent' && rules.length === 0) {
      warnings.push(`key "${id}" has no rules: it may connect but register nothing until replaced (keys add --replace --rule ...)`);
    }
    if (publicKey.kid !== undefined && publicKey.kid !== id) {
      warnings.push(`the key file's kid is "${publicKey.kid}", not "${id}"; check that this is the right file`);
    }
    for (const warning of warnings) io.stderr.write(`inteli-sysadmin: warning: ${warning}\n`);
    const key = await withSysAdmin(context, (admin) => admin.addPublicKey(id, publicKey, checkedScope, { role, replace: values.replace === true }));
    return {
      data: { key, warnings },
      text: [
        `${values.replace === true ? 'replaced' : 'added'} key "${key.id}" (role ${key.role})`,
        `fingerprint: ${key.fingerprint}`,
        `rules:       ${key.scope.rules?.join(', ') ?? '(none: may register nothing)'}`,
        `hosts:       ${key.scope.hosts?.join(', ') ?? "(the agent's own address)"}`,
        ...(key.scope.anyHost === true ? ['any host:    yes (host-less rules allow host-bound rules below them)'] : []),
      ].join('\n'),
    };
  },
};
