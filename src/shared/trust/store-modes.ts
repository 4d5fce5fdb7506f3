/**
 * The permission check of the file trust store at start (issue 14). Whoever can write the store
 * directory or file can trust a key of their own, so a directory or file writable by group or others,
 * or owned by another user (root aside), is reported: a warning by default, a refusal to start with the
 * store's `strictModes` option. Read bits are not checked: the file holds public keys only.
 */
import { lstat, stat } from 'node:fs/promises';

/** Octal form of a mode's permission bits, e.g. `0775`. */
function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8)}`;
}

function problemsOf(what: string, path: string, mode: number, uid: number): string[] {
  const problems: string[] = [];
  if ((mode & 0o022) !== 0) problems.push(`${what} ${path} is writable by group or others (mode ${octal(mode)}); anyone who can write it can trust a key (chmod go-w)`);
  const self = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (self !== undefined && uid !== self && uid !== 0) problems.push(`${what} ${path} is owned by uid ${uid}, not by this process's user (${self}) or root`);
  return problems;
}

/**
 * The permission problems of the store directory and file (a missing file has none). Never throws: a
 * path that cannot be examined is left to the read that follows, which reports it.
 */
export async function storeModeProblems(dir: string, file: string): Promise<string[]> {
  const problems: string[] = [];
  try {
    const info = await stat(dir);
    problems.push(...problemsOf('trust store directory', dir, info.mode, info.uid));
  } catch {
    // Reported by the read.
  }
  try {
    const info = await lstat(file);
    if (info.isFile()) problems.push(...problemsOf('trust store file', file, info.mode, info.uid));
  } catch {
    // A missing file is an empty store; anything else is reported by the read.
  }
  return problems;
}
