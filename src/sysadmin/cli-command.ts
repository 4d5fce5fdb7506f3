/**
 * The shape of one `inteli-sysadmin` command. Commands live in a table (see `run-cli.ts`), so adding
 * `keys add`, `init` or `backends list` is one new file and one table entry.
 */
import type { ParseArgsConfig } from 'node:util';
import type { SysadminEnv } from '../shared/env.js';

/** Where a command writes. `process.stdout`/`process.stderr` fit; tests pass string collectors. */
export interface CliIo {
  readonly stdout: { write(chunk: string): unknown };
  readonly stderr: { write(chunk: string): unknown };
}

/** Parsed arguments handed to {@link CliCommand.run}. */
export interface CliContext {
  /** Positional arguments after the command name. */
  readonly positionals: readonly string[];
  /** Option values, as `node:util` `parseArgs` returns them. */
  readonly values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;
  /** True when `--json` was given: print one JSON document on stdout. */
  readonly json: boolean;
  readonly io: CliIo;
  /**
   * The connection settings from the environment, validated when first called (a bad variable fails
   * only the commands that connect, not `keygen` or `--help`).
   *
   * @throws {InvalidEnvError} naming the bad variable.
   */
  readonly env: () => SysadminEnv;
}

/** What a command returns: a result for `--json`, and the human text otherwise. */
export interface CliResult {
  /** Printed as JSON with `--json`. */
  readonly data: unknown;
  /** Printed without `--json` (one or more lines). */
  readonly text: string;
  /** Exit code after printing; default 0. A command that reports partial failures (an import) sets 1. */
  readonly exitCode?: number;
}

/** One command of the table. */
export interface CliCommand {
  /** Words that select it, e.g. `keygen` or `keys add`. */
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Usage line(s) and option help, printed by `--help`. */
  readonly help: string;
  /** Options besides `--help` and `--json`. */
  readonly options: NonNullable<ParseArgsConfig['options']>;
  /** Accepted number of positionals. */
  readonly positionals: { readonly min: number; readonly max: number; readonly names: string };
  run(context: CliContext): Promise<CliResult>;
}
