/**
 * A package-lock for an empty project that depends on a packed inteli-proxy tarball, built from the
 * checkout's own lock: the tarball plus every production dependency at the version `npm ci` installed
 * here. With it, `npm ci --offline` installs from the npm cache alone: npm fetches each package by its
 * `resolved` URL and `integrity`, never asking the registry for its metadata (which `npm ci` does not
 * cache, so `npm install --offline <tarball>` without a lock fails with ENOTCACHED).
 */
import { readFile } from 'node:fs/promises';

interface LockEntry {
  readonly version?: string;
  readonly resolved?: string;
  readonly dev?: boolean;
  readonly link?: boolean;
  readonly [field: string]: unknown;
}

interface Lock {
  readonly packages: Readonly<Record<string, LockEntry>>;
}

/**
 * Returns the lockfile (as an object to write as JSON) of a project `name` whose only dependency is
 * `inteli-proxy` from `tarballSpec` (`file:../inteli-proxy-0.1.0.tgz`).
 */
export async function offlineLockfile(checkoutLock: string, name: string, tarballSpec: string): Promise<object> {
  const lock = JSON.parse(await readFile(checkoutLock, 'utf8')) as Lock;
  const root = lock.packages[''] ?? {};
  const packages: Record<string, unknown> = {
    '': { name, version: '1.0.0', dependencies: { 'inteli-proxy': tarballSpec } },
    'node_modules/inteli-proxy': {
      version: root.version,
      resolved: tarballSpec,
      license: root.license,
      dependencies: root.dependencies,
      bin: root.bin,
      engines: root.engines,
    },
  };
  for (const [location, entry] of Object.entries(lock.packages)) {
    if (location === '' || entry.dev === true || entry.link === true || !location.startsWith('node_modules/')) continue;
    // Some entries carry no `resolved`; without one npm asks the registry. The public registry's
    // tarball URL is what the cache holds them under.
    const packageName = location.slice(location.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const resolved = entry.resolved ?? `https://registry.npmjs.org/${packageName}/-/${packageName.split('/').pop() ?? packageName}-${entry.version ?? '0.0.0'}.tgz`;
    packages[location] = { ...entry, resolved };
  }
  return { name, version: '1.0.0', lockfileVersion: 3, requires: true, packages };
}
