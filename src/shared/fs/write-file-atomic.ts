/**
 * Writes a whole file atomically: a temporary file in the same directory (so the rename stays on one
 * file system), fsync, rename over the target, then a best-effort fsync of the directory so the rename
 * itself survives a power loss. A crash leaves the old file or the new one, never half of one; a failed
 * write removes its temporary file and leaves the old file untouched. The trust store, the ACME storage
 * and the local proxy record all persist this way.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * Replaces `file` with `body` (UTF-8), created with `mode` (default 0600, for key material).
 *
 * @throws the file system's error as it is; callers wrap it in their own typed error.
 */
export async function writeFileAtomic(file: string, body: string, mode = 0o600): Promise<void> {
  const dir = path.dirname(file);
  // The temporary name comes from random bytes, never from caller data such as an id.
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(8).toString('hex')}.tmp`);
  try {
    const handle = await open(tmp, 'wx', mode);
    try {
      await handle.writeFile(body, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (error) {
    await unlink(tmp).catch(() => undefined);
    throw error;
  }
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Best effort only: not every platform lets a directory be opened and synced.
  }
}
