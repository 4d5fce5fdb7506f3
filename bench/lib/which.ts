/** Finds an executable on PATH (plus the sbin directories where Debian puts nginx and HAProxy). */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const EXTRA_DIRECTORIES = ['/usr/sbin', '/usr/local/sbin', '/sbin'];

/** Absolute path of `name`, or undefined when it is not installed. */
export function which(name: string): string | undefined {
  const directories = [...(process.env.PATH ?? '').split(delimiter), ...EXTRA_DIRECTORIES];
  for (const directory of directories) {
    if (directory === '') continue;
    const candidate = join(directory, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here; keep looking.
    }
  }
  return undefined;
}
