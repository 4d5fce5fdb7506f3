/**
 * Discovery tests must never reach beyond this host: every IPv4 address any discovery test or its helper
 * names is a loopback address (127.0.0.0/8) or an administratively scoped multicast group (239.255.0.0/16,
 * which TTL 0 keeps on the host), and every socket option set binds loopback with TTL 0.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { LOOPBACK_BROADCAST, LOOPBACK_INTERFACE, LOOPBACK_SECOND, loopbackOptions, newSecret, randomGroup } from '../../helpers/discovery-loopback.js';

const root = path.resolve(import.meta.dirname, '../../..');
const files = [
  path.join(root, 'test/helpers/discovery-loopback.ts'),
  ...['test/unit/discovery', 'test/integration/discovery'].flatMap((dir) => readdirSync(path.join(root, dir)).filter((name) => name.endsWith('.ts')).map((name) => path.join(root, dir, name))),
];

function allowed(address: string): boolean {
  const octets = address.split('.').map(Number);
  return octets[0] === 127 || (octets[0] === 239 && octets[1] === 255);
}

describe('discovery test configuration', () => {
  it('names only loopback addresses and site-local multicast groups', () => {
    expect(files.length).toBeGreaterThan(5);
    const offending: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/(?<![\d.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\d.])/g)) {
        if (!allowed(match[0])) offending.push(`${path.relative(root, file)}: ${match[0]}`);
      }
      // Interfaces are only ever chosen through the helper's constants.
      for (const match of text.matchAll(/\binterface:\s*('[^']*'|"[^"]*"|[A-Za-z_][\w.]*)\s*[,}]/g)) {
        const value = match[1] as string;
        const literal = /^['"]/.test(value) ? value.slice(1, -1) : undefined;
        const ok = ['LOOPBACK_INTERFACE', 'LOOPBACK_SECOND', 'undefined'].includes(value) || (literal !== undefined && (literal === 'lo' || allowed(literal)));
        if (!ok) offending.push(`${path.relative(root, file)}: interface ${value}`);
      }
    }
    expect(offending).toEqual([]);
  });

  it('the helper binds loopback with TTL 0 and picks groups in 239.255.0.0/16', () => {
    for (const address of [LOOPBACK_INTERFACE, LOOPBACK_SECOND, LOOPBACK_BROADCAST]) expect(address.startsWith('127.')).toBe(true);
    const options = loopbackOptions(newSecret());
    expect(options).toMatchObject({ interface: LOOPBACK_INTERFACE, ttl: 0 });
    for (let i = 0; i < 50; i += 1) expect(randomGroup()).toMatch(/^239\.255\.\d{1,3}\.\d{1,3}$/);
  });
});
