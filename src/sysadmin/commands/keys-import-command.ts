/** `inteli-sysadmin keys import FILE [--replace] [--no-rules]`: bulk key provisioning. */
import { performance } from 'node:perf_hooks';
import type { ErrorCode } from '../../shared/errors.js';
import type { CliCommand } from '../cli-command.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS } from '../connection-settings.js';
import type { KeyImportInput, KeyImportResult } from '../key-import.js';
import { readKeyImportFile } from '../key-import-file.js';
import { withSysAdmin } from '../remote-command.js';

/** One reported key: where it came from in the file, and its outcome. */
type Reported =
  | { where: string; id: string; status: 'added'; fingerprint: string; role: string }
  | { where: string; id: string | undefined; status: 'refused'; code: ErrorCode; message: string };

/** Trusts every key of a file on the running proxy. */
export const keysImportCommand: CliCommand = {
  name: 'keys import',
  summary: 'Trust many keys at once from a JSON or NDJSON file',
  help: [
    'Usage: inteli-sysadmin keys import FILE [--replace] [--no-rules] [--json]',
    '',
    'FILE is a JSON array, or NDJSON (one object per line), of',
    '  { "id": "web-1", "publicKey": { JWK }, "rules": ["/api"], "hosts": ["10.0.0.0/8"], "role": "agent" }',
    'The keys go to the proxy in batches of at most 100 per frame, paced within the admin session\'s rate',
    'limit; each is applied and audited as "keys add" would. One line per key says "added" or "refused"',
    'with a code; the exit code is 0 when every key was added, 1 otherwise.',
    '',
    'Options:',
    '  --replace       replace existing keys with the same ids (their live sessions are closed)',
    '  --no-rules      accept agent keys without rules (they may register nothing until replaced)',
    '',
    CONNECTION_HELP,
  ].join('\n'),
  options: {
    replace: { type: 'boolean' },
    'no-rules': { type: 'boolean' },
    ...CONNECTION_OPTIONS,
  },
  positionals: { min: 1, max: 1, names: 'FILE' },
  async run(context) {
    const { positionals, values } = context;
    const entries = await readKeyImportFile(positionals[0] as string);
    const reported: Array<Reported | undefined> = entries.map(() => undefined);
    const toSend: Array<{ position: number; input: KeyImportInput }> = [];
    entries.forEach((entry, position) => {
      if ('error' in entry) {
        reported[position] = { where: entry.where, id: entry.id, status: 'refused', code: 'RP_ERR_INVALID_OPTION', message: entry.error };
        return;
      }
      const input = values.replace === true ? { ...entry.input, replace: true } : entry.input;
      const rules = (input as { rules?: unknown }).rules;
      if ((input.role ?? 'agent') === 'agent' && (rules === undefined || (Array.isArray(rules) && rules.length === 0)) && values['no-rules'] !== true) {
        const id = typeof input.id === 'string' ? input.id : undefined;
        reported[position] = { where: entry.where, id, status: 'refused', code: 'RP_ERR_INVALID_OPTION', message: 'an agent key without rules may register nothing (give "rules", or --no-rules)' };
        return;
      }
      toSend.push({ position, input });
    });
    const started = performance.now();
    const results: KeyImportResult[] = toSend.length === 0 ? [] : await withSysAdmin(context, (admin) => admin.addPublicKeys(toSend.map(({ input }) => input)));
    const elapsedMs = Math.round(performance.now() - started);
    results.forEach((result, index) => {
      const { position } = toSend[index]!;
      const where = entries[position]!.where;
      reported[position] = result.status === 'added'
        ? { where, id: result.id, status: 'added', fingerprint: result.fingerprint, role: result.role }
        : { where, id: result.id, status: 'refused', code: result.code, message: result.message };
    });
    const all = reported as Reported[];
    const added = all.filter((entry) => entry.status === 'added').length;
    const refused = all.length - added;
    const lines = all.map((entry) =>
      entry.status === 'added'
        ? `added    ${entry.id} (${entry.role}) ${entry.fingerprint}`
        : `refused  ${entry.id ?? '-'} (${entry.where}) ${entry.code}: ${entry.message}`,
    );
    lines.push(`imported ${added} of ${all.length} keys${refused === 0 ? '' : ` (${refused} refused)`} in ${elapsedMs} ms`);
    return { data: { results: all, added, refused, elapsedMs }, text: lines.join('\n'), exitCode: refused === 0 ? 0 : 1 };
  },
};
