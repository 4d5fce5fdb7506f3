/**
 * The package boundaries of issue 11: the proxy and the sysadmin tools share the trust store through
 * `src/shared/`, and neither imports the other (the proxy's first start must not load the sysadmin
 * package, nor the offline CLI the proxy). `src/shared/` imports neither side.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';

const SRC = path.resolve('src');

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return sourceFiles(full);
      return Promise.resolve(entry.name.endsWith('.ts') ? [full] : []);
    }),
  );
  return nested.flat();
}

// Static imports, re-exports and dynamic imports of relative modules.
const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"]*?\bfrom\s*['"](\.[^'"]+)['"]|\bimport\s*\(\s*['"](\.[^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"](\.[^'"]+)['"]/g;

/** Every `src/<area>/...` file imported by a file under `src/<from>/`, as "importer -> imported". */
async function crossings(from: string, to: string): Promise<string[]> {
  const found: string[] = [];
  for (const file of await sourceFiles(path.join(SRC, from))) {
    const text = await readFile(file, 'utf8');
    for (const match of text.matchAll(IMPORT)) {
      const specifier = match[1] ?? match[2] ?? match[3];
      if (specifier === undefined) continue;
      const target = path.relative(SRC, path.resolve(path.dirname(file), specifier));
      if (target.split(path.sep)[0] === to) found.push(`${path.relative(SRC, file)} -> ${target}`);
    }
  }
  return found;
}

describe('import boundaries', () => {
  it('finds an import when there is one (the scanner itself works)', async () => {
    expect((await crossings('proxy', 'shared')).length).toBeGreaterThan(0);
  });

  it('src/proxy never imports src/sysadmin', async () => {
    expect(await crossings('proxy', 'sysadmin')).toEqual([]);
  });

  it('src/sysadmin never imports src/proxy', async () => {
    expect(await crossings('sysadmin', 'proxy')).toEqual([]);
  });

  it('src/shared imports neither src/proxy nor src/sysadmin', async () => {
    expect([...(await crossings('shared', 'proxy')), ...(await crossings('shared', 'sysadmin'))]).toEqual([]);
  });
});
