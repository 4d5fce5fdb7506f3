/**
 * The `inteli-sysadmin` dispatcher: finds the command in the table, parses its options strictly, prints
 * `--help`, and turns every failure into one line on stderr and a non-zero exit code. It never calls
 * `process.exit` and never reads `process.argv`, so tests run it in-process.
 */
import { parseArgs } from 'node:util';
import type { SysadminEnv } from '../shared/env.js';
import { isProxyError } from '../shared/errors.js';
import type { CliCommand, CliIo } from './cli-command.js';
import { backendsDrainCommand } from './commands/backends-drain-command.js';
import { backendsUndrainCommand } from './commands/backends-undrain-command.js';
import { backendsListCommand } from './commands/backends-list-command.js';
import { fleetListCommand } from './commands/fleet-list-command.js';
import { initCommand } from './commands/init-command.js';
import { keygenCommand } from './commands/keygen-command.js';
import { keysAddCommand } from './commands/keys-add-command.js';
import { keysImportCommand } from './commands/keys-import-command.js';
import { keysListCommand } from './commands/keys-list-command.js';
import { keysRemoveCommand } from './commands/keys-remove-command.js';

export type { CliCommand, CliIo } from './cli-command.js';

/** Exit code of a success. */
export const EXIT_OK = 0;
/** Exit code of a failed command (the one-line reason is on stderr). */
export const EXIT_FAILURE = 1;
/** Exit code of bad usage (unknown command or option, wrong arguments, invalid option or variable values). */
export const EXIT_USAGE = 2;

/** Every command. Multi-word names (`keys add`) are matched before shorter ones. */
export const SYSADMIN_COMMANDS: readonly CliCommand[] = Object.freeze([
  initCommand,
  keygenCommand,
  keysAddCommand,
  keysImportCommand,
  keysRemoveCommand,
  keysListCommand,
  backendsListCommand,
  backendsDrainCommand,
  backendsUndrainCommand,
  fleetListCommand,
]);

/** Options of {@link runCli}. */
export interface RunCliOptions {
  /**
   * The connection settings from the environment; called (and so validated) only by commands that
   * connect. The bin entry passes `() => readSysadminEnv()`. Default: no variables set.
   */
  env?: () => SysadminEnv;
  /** The command table. Default {@link SYSADMIN_COMMANDS}. */
  commands?: readonly CliCommand[];
}

/** Error codes that mean the invocation itself was wrong: exit {@link EXIT_USAGE}. */
const USAGE_CODES: ReadonlySet<string> = new Set(['RP_ERR_INVALID_OPTION', 'RP_ERR_INVALID_ENV']);

const PROGRAM = 'inteli-sysadmin';

function mainHelp(commands: readonly CliCommand[]): string {
  const width = Math.max(...commands.map((command) => command.name.length));
  return [
    `Usage: ${PROGRAM} <command> [options]`,
    '',
    'Commands:',
    ...commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    `Run "${PROGRAM} <command> --help" for a command's options. Every command accepts --json.`,
  ].join('\n');
}

function findCommand(argv: readonly string[], commands: readonly CliCommand[]): [CliCommand, string[]] | undefined {
  const byLength = [...commands].sort((a, b) => b.name.split(' ').length - a.name.split(' ').length);
  for (const command of byLength) {
    const words = command.name.split(' ');
    if (words.every((word, index) => argv[index] === word)) return [command, argv.slice(words.length)];
  }
  return undefined;
}

/** Makes an error one printable line (control characters removed), by default followed by its code. */
function oneLine(error: unknown, withCode = true): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = withCode && isProxyError(error) ? ` [${error.code}]` : '';
  const printable = [...message].map((char) => (char.charCodeAt(0) < 0x20 || char.charCodeAt(0) === 0x7f ? ' ' : char)).join('');
  return `${printable.replace(/ {2,}/g, ' ').trim()}${code}`;
}

/**
 * Runs `inteli-sysadmin` with `argv` (without `node` and the script) and returns the exit code:
 * 0 success, 1 failure, 2 usage error (also an invalid option value or environment variable).
 */
export async function runCli(argv: readonly string[], io: CliIo, options: RunCliOptions = {}): Promise<number> {
  const commands = options.commands ?? SYSADMIN_COMMANDS;
  const env = options.env ?? ((): SysadminEnv => ({}));
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    (argv.length === 0 ? io.stderr : io.stdout).write(`${mainHelp(commands)}\n`);
    return argv.length === 0 ? EXIT_USAGE : EXIT_OK;
  }
  const found = findCommand(argv, commands);
  if (found === undefined) {
    io.stderr.write(`${PROGRAM}: unknown command "${oneLine(argv[0])}"; run "${PROGRAM} --help"\n`);
    return EXIT_USAGE;
  }
  const [command, rest] = found;
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...rest],
      options: { ...command.options, help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    }));
  } catch (error) {
    io.stderr.write(`${PROGRAM} ${command.name}: ${oneLine(error)}; run "${PROGRAM} ${command.name} --help"\n`);
    return EXIT_USAGE;
  }
  if (values.help === true) {
    io.stdout.write(`${command.help}\n`);
    return EXIT_OK;
  }
  if (positionals.length < command.positionals.min || positionals.length > command.positionals.max) {
    io.stderr.write(`${PROGRAM} ${command.name}: expected ${command.positionals.names}; run "${PROGRAM} ${command.name} --help"\n`);
    return EXIT_USAGE;
  }
  const json = values.json === true;
  try {
    const result = await command.run({ positionals, values, json, io, env });
    io.stdout.write(json ? `${JSON.stringify(result.data)}\n` : `${result.text}\n`);
    return result.exitCode ?? EXIT_OK;
  } catch (error) {
    if (json) io.stdout.write(`${JSON.stringify({ error: { code: isProxyError(error) ? error.code : 'ERROR', message: oneLine(error, false) } })}\n`);
    io.stderr.write(`${PROGRAM} ${command.name}: ${oneLine(error)}\n`);
    return isProxyError(error) && USAGE_CODES.has(error.code) ? EXIT_USAGE : EXIT_FAILURE;
  }
}
