/**
 * deploy/inteli-proxy.service: the settings docs/deploy.md promises (dedicated user, read-only system but
 * the state directory, restart on failure, SIGTERM drain, SIGHUP reload), and `systemd-analyze verify`
 * accepting the unit when systemd is installed (Debian package `systemd`). verify insists that the
 * ExecStart binary exists, so it checks a copy whose ExecStart points at a temporary executable.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, execFileSync } from 'node:child_process';
import { chmod, copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const UNIT = path.resolve('deploy', 'inteli-proxy.service');

function hasSystemdAnalyze(): boolean {
  try {
    execFileSync('systemd-analyze', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** `Key=value` lines of the unit (comments and sections dropped), in order. */
function settings(text: string): Array<[string, string]> {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#') && !line.startsWith('['))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as [string, string]);
}

describe('deploy/inteli-proxy.service', () => {
  let text: string;
  let dir: string;

  beforeAll(async () => {
    text = await readFile(UNIT, 'utf8');
    dir = await mkdtemp(path.join(tmpdir(), 'inteli-unit-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs as a dedicated user, writes only its state directory, restarts on failure, drains on SIGTERM and reloads on SIGHUP', () => {
    const values = new Map(settings(text));
    expect(values.get('User')).toBe('inteli-proxy');
    expect(values.get('ProtectSystem')).toBe('strict');
    expect(values.get('StateDirectory')).toBe('inteli-proxy');
    expect(values.get('ReadWritePaths')).toBe('/var/lib/inteli-proxy');
    expect(values.get('WorkingDirectory')).toBe('/var/lib/inteli-proxy');
    expect(values.get('Restart')).toBe('on-failure');
    expect(values.get('KillSignal')).toBe('SIGTERM');
    expect(values.get('TimeoutStopSec')).toMatch(/^\d+s$/);
    expect(values.get('ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    expect(values.get('NoNewPrivileges')).toBe('yes');
    expect(values.get('ExecStart')).toMatch(/^\/\S+$/);
    // The proxy drains within its shutdownTimeoutMs (10 s by default); systemd must wait longer than that.
    expect(Number(values.get('TimeoutStopSec')?.replace('s', ''))).toBeGreaterThan(10);
  });

  const verify = hasSystemdAnalyze() ? it : it.skip;
  verify('passes systemd-analyze verify (ExecStart pointed at a temporary executable)', async () => {
    const binary = path.join(dir, 'inteli-proxy');
    await copyFile('/bin/true', binary);
    await chmod(binary, 0o755);
    const unit = path.join(dir, 'inteli-proxy.service');
    await writeFile(unit, text.replace(/^ExecStart=\S+/m, `ExecStart=${binary}`));
    const result = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile('systemd-analyze', ['verify', unit], { timeout: 60_000 }, (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, output: `${stdout}${stderr}` });
      });
    });
    // Warnings about this unit (unknown keys, bad values) fail it; messages about other units do not.
    expect(result.output.split('\n').filter((line) => line.includes('inteli-proxy.service'))).toEqual([]);
    expect(result.code).toBe(0);
  });
});
