/**
 * Finds and parses the configuration file: `PROXY_CONFIG=path`, else `inteli.yaml`, `inteli.yml` or
 * `inteli.json` in the working directory when one exists. YAML goes through the `yaml` package (aliases
 * bounded, duplicate keys refused) and keeps its line counter, so a later validation error can name the
 * line of the offending key; `.json` files are parsed as strict JSON.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { InvalidConfigError } from '../../shared/errors.js';

/** Names looked for in the working directory, in this order. */
export const CONFIG_FILE_NAMES: readonly string[] = Object.freeze(['inteli.yaml', 'inteli.yml', 'inteli.json']);

/** Largest configuration file read, in bytes. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

/** A parsed configuration file. */
export interface ConfigFile {
  /** The path as given or found. */
  readonly file: string;
  /** The parsed document (validated later against the schema). */
  readonly data: unknown;
  /** The 1-based line of the key at `path` (`['control', 'limits', 'burst']`), when known. */
  lineOf(path: readonly string[]): number | undefined;
}

/**
 * The configuration file to read: `PROXY_CONFIG` when set, else the one of {@link CONFIG_FILE_NAMES}
 * present in `cwd`, else undefined (defaults and variables only).
 *
 * @throws {InvalidConfigError} when several of those files exist (which one is meant is unclear).
 */
export function findConfigFile(variables: Readonly<Record<string, string>>, cwd: string): string | undefined {
  const given = variables.PROXY_CONFIG;
  if (given !== undefined) return given;
  const present = CONFIG_FILE_NAMES.filter((name) => existsSync(path.join(cwd, name)));
  if (present.length > 1) {
    throw new InvalidConfigError(present.join(', '), undefined, 'several configuration files in the working directory: keep one, or choose with PROXY_CONFIG=path');
  }
  return present[0] === undefined ? undefined : path.join(cwd, present[0]);
}

function lineOfPosition(text: string, position: number): number {
  let line = 1;
  for (let index = 0; index < position && index < text.length; index += 1) if (text.charCodeAt(index) === 10) line += 1;
  return line;
}

function parseJson(file: string, text: string): ConfigFile {
  try {
    return { file, data: JSON.parse(text) as unknown, lineOf: () => undefined };
  } catch (error) {
    const message = (error as Error).message;
    const position = /position (\d+)/.exec(message)?.[1];
    const line = position === undefined ? undefined : lineOfPosition(text, Number(position));
    throw new InvalidConfigError(file, undefined, `invalid JSON: ${message.replace(/ \(line \d+ column \d+\)$/, '')}`, { cause: error, ...(line === undefined ? {} : { line }) });
  }
}

function parseYaml(file: string, text: string): ConfigFile {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, uniqueKeys: true });
  const first = document.errors[0];
  if (first !== undefined) {
    const line = first.linePos?.[0]?.line;
    const message = (first.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    throw new InvalidConfigError(file, undefined, `invalid YAML: ${message}`, line === undefined ? {} : { line });
  }
  let data: unknown;
  try {
    data = document.toJS({ maxAliasCount: 100 }) as unknown;
  } catch (error) {
    throw new InvalidConfigError(file, undefined, `invalid YAML: ${(error as Error).message}`, { cause: error });
  }
  return {
    file,
    data,
    lineOf(keys) {
      const node = document.getIn(keys, true) as { range?: [number, number, number] } | undefined;
      const offset = node?.range?.[0];
      return offset === undefined ? undefined : lineCounter.linePos(offset).line;
    },
  };
}

/**
 * Reads and parses `file` (YAML unless it ends in `.json`).
 *
 * @throws {InvalidConfigError} naming the file when it is missing, unreadable, too large or not
 * valid YAML/JSON (with the line when the parser knows it).
 */
export async function readConfigFile(file: string): Promise<ConfigFile> {
  let text: string;
  try {
    const bytes = await readFile(file);
    if (bytes.length > MAX_CONFIG_FILE_BYTES) throw new Error(`larger than ${MAX_CONFIG_FILE_BYTES} bytes`);
    text = bytes.toString('utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new InvalidConfigError(file, undefined, `cannot read the configuration file: ${reason}`, { cause: error });
  }
  return file.toLowerCase().endsWith('.json') ? parseJson(file, text) : parseYaml(file, text);
}
