/**
 * `npm run demo` is the README's first command: run the compiled demo as a user would and check the
 * story it tells (round-robin, fail-over on stop, 403 when nothing is left) and that it exits 0.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from '@jest/globals';

const run = promisify(execFile);
const demo = new URL('../../../dist/examples/demo.js', import.meta.url).pathname;

describe('npm run demo', () => {
  it('shows round-robin across two self-registered backends, fail-over, then 403, and exits 0', async () => {
    expect(existsSync(demo)).toBe(true); // `npm test` builds before running jest
    // Killed well before the test's own timeout, so a hung demo never outlives the test.
    const { stdout } = await run(process.execPath, [demo], { timeout: 25_000, killSignal: 'SIGKILL' });
    const answers = [...stdout.matchAll(/GET \/hello\?n=\d+ -> (\d+) (.*)$/gm)].map((match) => `${match[1]} ${match[2]}`);
    expect(answers.slice(0, 4)).toEqual(['200 hello from WEB001', '200 hello from WEB002', '200 hello from WEB001', '200 hello from WEB002']);
    expect(answers.slice(4, 6)).toEqual(['200 hello from WEB002', '200 hello from WEB002']);
    expect(answers[6]).toMatch(/^403 /);
    expect(stdout).toContain('backend removed: WEB001 (drained)');
    expect(stdout).toMatch(/done: everything stopped/);
  }, 30_000);
});
