import { describe, it, expect } from '@jest/globals';
import { parseAgentArgs, parseTarget } from '../../../src/webserver-agent/agent-cli-args.js';
import { runAgentCli } from '../../../src/webserver-agent/run-agent-cli.js';
import { collector } from '../../helpers/cli-output.js';

const PIN = 'x'.repeat(43) + '=';
const minimal = ['--proxy', 'wss://127.0.0.1:3042', '--id', 'WEB001', '--key', 'WEB001.key.json', '--target', '127.0.0.1:8080', '--rule', '/api'];

describe('parseAgentArgs', () => {
  it('maps the flags to ProxyWebServer options', () => {
    const config = parseAgentArgs([...minimal, '--rule', 'example.com/v2', '--pin', PIN, '--weight', '5', '--meta', 'version=1.0', '--meta', 'zone=a=b', '--audience', 'aud', '--log-level', 'warn']);
    expect(config).toEqual({
      help: false,
      logLevel: 'warn',
      options: {
        proxyUrl: 'wss://127.0.0.1:3042',
        agentId: 'WEB001',
        key: 'WEB001.key.json',
        target: { host: '127.0.0.1', port: 8080, protocol: 'http' },
        rules: ['/api', { host: 'example.com', path: '/v2' }],
        pin: [PIN],
        weight: 5,
        meta: { version: '1.0', zone: 'a=b' },
        audience: 'aud',
        healthCheck: {},
      },
    });
  });

  it('maps --affinity, --affinity-header, --body-timeout and the health-check flags', () => {
    const options = parseAgentArgs([
      ...minimal, '--affinity', 'hash', '--affinity-header', 'X-User', '--body-timeout', '0',
      '--health-path', '/healthz', '--health-status', '204', '--health-interval', '500', '--health-timeout', '200', '--health-fall', '2', '--health-rise', '3',
    ]).options;
    expect(options).toMatchObject({
      affinity: 'hash',
      affinityHeader: 'X-User',
      bodyTimeoutMs: 0,
      healthCheck: { path: '/healthz', expectStatus: 204, intervalMs: 500, timeoutMs: 200, unhealthyThreshold: 2, healthyThreshold: 3 },
    });
    expect(parseAgentArgs([...minimal, '--affinity', 'cookie', '--no-health-check']).options).toMatchObject({ affinity: 'cookie', healthCheck: false });
  });

  it('--proxy is repeatable: one pin applies to every proxy', () => {
    const { options } = parseAgentArgs([...minimal, '--proxy', 'wss://127.0.0.2:3042', '--pin', PIN, '--min-acks', '1', '--start-timeout-ms', '30000']);
    expect(options).toMatchObject({ proxyUrl: ['wss://127.0.0.1:3042', 'wss://127.0.0.2:3042'], pin: [PIN], minAcks: 1, startTimeoutMs: 30_000 });
  });

  it('pairs one --pin per --proxy in the order given', () => {
    const other = 'y'.repeat(43) + '=';
    const { options } = parseAgentArgs([...minimal, '--proxy', 'wss://127.0.0.2:3042', '--pin', PIN, '--pin', other]);
    expect(options?.proxyUrl).toEqual([
      { url: 'wss://127.0.0.1:3042', pin: PIN },
      { url: 'wss://127.0.0.2:3042', pin: other },
    ]);
    expect(options?.pin).toBeUndefined();
  });

  it('with one --proxy, every --pin is accepted for it (rotation)', () => {
    const other = 'y'.repeat(43) + '=';
    expect(parseAgentArgs([...minimal, '--pin', PIN, '--pin', other]).options).toMatchObject({ proxyUrl: 'wss://127.0.0.1:3042', pin: [PIN, other] });
  });

  it('returns help without requiring the other flags', () => {
    expect(parseAgentArgs(['--help']).help).toBe(true);
  });

  it.each([
    [['--proxy', 'wss://x:1'], '--id is required'],
    [minimal.filter((arg) => arg !== '--rule' && arg !== '/api'), '--rule is required'],
    [[...minimal, '--bogus'], "Unknown option '--bogus'"],
    [[...minimal, '--weight', 'ten'], '--weight'],
    [[...minimal, '--meta', 'novalue'], '--meta'],
    [[...minimal, '--rule', 'api'], '--rule'],
    [[...minimal, '--log-level', 'loud'], '--log-level'],
    [[...minimal, '--affinity', 'sticky'], '--affinity: expected cookie or hash'],
    [[...minimal, '--affinity', 'cookie', '--affinity-header', 'x-user'], '--affinity-header: only with --affinity hash'],
    [[...minimal, '--body-timeout', '-1'], '--body-timeout'],
    [[...minimal, '--health-status', '200'], '--health-status: only with --health-path'],
    [[...minimal, '--no-health-check', '--health-interval', '100'], '--no-health-check'],
    [[...minimal, '--proxy', 'wss://b:1', '--proxy', 'wss://c:1', '--pin', PIN, '--pin', PIN], '--pin: give one pin for every proxy or one per --proxy'],
    [[...minimal, '--min-acks', '2'], '--min-acks'],
    [[...minimal, '--start-timeout-ms', '0'], '--start-timeout-ms'],
    [[...minimal.slice(0, 6), '--target', 'nohostport', '--rule', '/api'], '--target'],
  ])('rejects %j with a message naming the flag', (argv, message) => {
    expect(() => parseAgentArgs(argv)).toThrow(expect.objectContaining({ code: 'RP_ERR_INVALID_OPTION', message: expect.stringContaining(message) }));
  });
});

describe('parseTarget', () => {
  it.each([
    ['127.0.0.1:8080', { host: '127.0.0.1', port: 8080, protocol: 'http' }],
    ['localhost:80', { host: 'localhost', port: 80, protocol: 'http' }],
    ['[::1]:8443', { host: '::1', port: 8443, protocol: 'http' }],
    ['https://backend.local:8443/', { host: 'backend.local', port: 8443, protocol: 'https' }],
  ])('parses %s', (value, expected) => {
    expect(parseTarget(value)).toEqual(expected);
  });

  it.each(['8080', 'host:0', 'host:70000', '[zz]:80', 'ftp://h:1', 'a:b:c'])('rejects %s', (value) => {
    expect(() => parseTarget(value)).toThrow(/--target/);
  });
});

describe('runAgentCli usage errors', () => {
  it('prints help with exit 0', async () => {
    const io = collector();
    expect(await runAgentCli(['--help'], io)).toBe(0);
    expect(io.out()).toContain('Usage: inteli-agent');
  });

  it('exits 2 with one line on bad flags', async () => {
    const io = collector();
    expect(await runAgentCli(['--proxy', 'wss://x:1'], io)).toBe(2);
    expect(io.err().trim().split('\n')).toHaveLength(1);
    expect(io.err()).toMatch(/^inteli-agent: --id is required/);
  });

  it('exits 2 with one line on an invalid option value (ws:// without --insecure)', async () => {
    const io = collector();
    expect(await runAgentCli(['--proxy', 'ws://127.0.0.1:1', ...minimal.slice(2)], io)).toBe(2);
    expect(io.err()).toContain('proxyUrl');
  });
});
