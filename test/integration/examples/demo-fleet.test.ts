/**
 * `npm run demo:fleet`: run the compiled fleet demo as a user would (it starts its own redis-server) and
 * check the story it tells: two proxies, keys trusted through one reach both, a revocation through the
 * other cuts the agent off on both, and it exits 0.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from '@jest/globals';

const run = promisify(execFile);
const demo = new URL('../../../dist/examples/demo-fleet.js', import.meta.url).pathname;

describe('npm run demo:fleet', () => {
  it('revokes a key through one proxy and cuts the agent off on both, then exits 0', async () => {
    expect(existsSync(demo)).toBe(true); // `npm test` builds before running jest
    const { stdout } = await run(process.execPath, [demo], { timeout: 60_000 });
    expect(stdout).toContain('fleet list: proxy-a (answering), proxy-b');
    const before = stdout.slice(0, stdout.indexOf('4. '));
    const after = stdout.slice(stdout.indexOf('4. '));
    expect(before).toMatch(/via proxy-a: GET \/hello -> 200 hello from WEB001/);
    expect(before).toMatch(/via proxy-b: GET \/hello -> 200 hello from WEB001/);
    expect(after).toContain('[WEB001 on proxy-a] session closed by the proxy (4003)');
    expect(after).toContain('[WEB001 on proxy-b] session closed by the proxy (4003)');
    const answers = [...after.matchAll(/via (proxy-[ab]): GET \/hello -> (\d+) (.*)$/gm)].map((match) => `${match[1]} ${match[2]} ${match[3]}`);
    expect(answers).toEqual(['proxy-a 200 hello from WEB002', 'proxy-a 200 hello from WEB002', 'proxy-b 200 hello from WEB002', 'proxy-b 200 hello from WEB002']);
    expect(stdout).toMatch(/done: proxies, agents and redis-server stopped/);
  });
});
