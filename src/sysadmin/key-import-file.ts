/**
 * Reads a key import file: a JSON array, or NDJSON (one JSON object per line), of
 * `{ id, publicKey, rules?, hosts?, role?, replace? }`. A line or element that is not such an object is
 * reported with its position instead of failing the whole file, so one typo does not hide the rest.
 */
import { readFile, stat } from 'node:fs/promises';
import { InvalidOptionError } from '../shared/errors.js';
import type { KeyImportInput } from './key-import.js';

/** Largest import file read, in bytes (10,000 keys with scopes fit easily). */
export const MAX_KEY_IMPORT_FILE_BYTES = 32 * 1024 * 1024;
/** Most entries one file may hold (the trust store's own bound). */
export const MAX_KEY_IMPORT_ENTRIES = 10_000;

/** One entry of the file: the input, or why it cannot be one; `where` names it (`line 3`, `[2]`). */
export type KeyImportFileEntry =
  | { readonly where: string; readonly input: KeyImportInput }
  | { readonly where: string; readonly id: string | undefined; readonly error: string };

const FIELDS: ReadonlySet<string> = new Set(['id', 'publicKey', 'rules', 'hosts', 'role', 'replace']);

function entry(value: unknown, where: string): KeyImportFileEntry {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { where, id: undefined, error: 'expected an object { id, publicKey, rules?, hosts?, role? }' };
  const record = value as Record<string, unknown>;
  const id = typeof record.id === 'string' ? record.id.slice(0, 64) : undefined;
  const unknown = Object.keys(record).find((field) => !FIELDS.has(field));
  if (unknown !== undefined) return { where, id, error: `unknown field "${unknown.slice(0, 40)}" (expected id, publicKey, rules, hosts, role, replace)` };
  // A path here would make the file read other files; the file carries the keys themselves.
  if (typeof record.publicKey !== 'object' || record.publicKey === null || Array.isArray(record.publicKey)) {
    return { where, id, error: 'publicKey: expected a JWK object' };
  }
  return { where, input: record as unknown as KeyImportInput };
}

/**
 * Parses the text of an import file.
 *
 * @throws {InvalidOptionError} when the text is neither a JSON array nor NDJSON, or holds too many entries.
 */
export function parseKeyImportText(text: string): KeyImportFileEntry[] {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('[')) {
    let values: unknown;
    try {
      values = JSON.parse(trimmed);
    } catch (error) {
      throw new InvalidOptionError(`the file starts like a JSON array but is not valid JSON: ${(error as Error).message}`, { cause: error });
    }
    if (!Array.isArray(values)) throw new InvalidOptionError('expected a JSON array of keys');
    if (values.length > MAX_KEY_IMPORT_ENTRIES) throw new InvalidOptionError(`at most ${MAX_KEY_IMPORT_ENTRIES} keys per file`);
    return values.map((value, index) => entry(value, `[${index}]`));
  }
  const entries: KeyImportFileEntry[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    if (entries.length >= MAX_KEY_IMPORT_ENTRIES) throw new InvalidOptionError(`at most ${MAX_KEY_IMPORT_ENTRIES} keys per file`);
    const where = `line ${index + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      entries.push({ where, id: undefined, error: 'not valid JSON' });
      continue;
    }
    entries.push(entry(value, where));
  }
  if (entries.length === 0) throw new InvalidOptionError('the file holds no keys');
  return entries;
}

/**
 * Reads and parses an import file.
 *
 * @throws {InvalidOptionError} naming the file when it cannot be read or parsed.
 */
export async function readKeyImportFile(file: string): Promise<KeyImportFileEntry[]> {
  let text: string;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new Error('not a regular file');
    if (info.size > MAX_KEY_IMPORT_FILE_BYTES) throw new Error(`larger than ${MAX_KEY_IMPORT_FILE_BYTES} bytes`);
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new InvalidOptionError(`cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  try {
    return parseKeyImportText(text);
  } catch (error) {
    throw new InvalidOptionError(`${file}: ${(error as Error).message}`, { cause: error });
  }
}
