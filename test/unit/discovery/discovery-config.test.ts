/**
 * How discovery is switched on: the proxy's `discovery` option, the cluster secret variables, and the
 * agent's `--discover` flags. Every mistake names the option or variable and fails before anything binds.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { ProxyServer } from '../../../src/proxy/proxy-server.js';
import { resolveProxyDiscoveryConfig } from '../../../src/proxy/proxy-discovery-config.js';
import { readClusterSecretEnv } from '../../../src/shared/env.js';
import { parseAgentArgs } from '../../../src/webserver-agent/agent-cli-args.js';
import { runAgentCli } from '../../../src/webserver-agent/run-agent-cli.js';
import { ProxyWebServer } from '../../../src/webserver-agent/proxy-web-server.js';
import { collector } from '../../helpers/cli-output.js';
import { newSecret } from '../../helpers/discovery-loopback.js';

const AGENT = ['--id', 'web1', '--key', 'web1.key.json', '--target', '127.0.0.1:8080', '--rule', '/api'];

describe('ProxyServer discovery option', () => {
  it('refuses a weak secret at new, naming discovery.secret and the command', () => {
    expect(() => new ProxyServer({ control: { insecure: true }, discovery: { secret: 'short' } })).toThrow(expect.objectContaining({ code: 'RP_ERR_CLUSTER_SECRET' }));
  });

  it('needs the TLS control plane', () => {
    expect(() => new ProxyServer({ control: false, discovery: { secret: newSecret() } })).toThrow('discovery: needs the TLS control plane');
    expect(() => new ProxyServer({ control: { insecure: true }, discovery: { secret: newSecret() } })).toThrow('discovery: needs the TLS control plane');
  });

  it('validates proxyId and controlUrls', () => {
    const secret = newSecret();
    expect(() => resolveProxyDiscoveryConfig({ secret, proxyId: '../x' })).toThrow('discovery.proxyId');
    expect(() => resolveProxyDiscoveryConfig({ secret, controlUrls: ['ws://127.0.0.1:3042/'] })).toThrow('discovery.controlUrls');
    expect(resolveProxyDiscoveryConfig({ secret, controlUrls: ['wss://127.0.0.1:3042'] })?.controlUrls).toEqual(['wss://127.0.0.1:3042/']);
    expect(resolveProxyDiscoveryConfig(false)).toBeUndefined();
  });
});

describe('cluster secret variables', () => {
  it('reads the proxy and agent variables, inline or as a file', () => {
    const secret = newSecret();
    expect(readClusterSecretEnv('proxy', { PROXY_CLUSTER_SECRET: secret })).toEqual({ secret });
    expect(readClusterSecretEnv('agent', { INTELI_CLUSTER_SECRET_FILE: '/run/secrets/cluster' })).toEqual({ secretFile: '/run/secrets/cluster' });
    expect(readClusterSecretEnv('proxy', { INTELI_CLUSTER_SECRET: secret })).toEqual({});
  });

  it('names the variable for a weak secret, with the command, and refuses both forms at once', () => {
    expect(() => readClusterSecretEnv('proxy', { PROXY_CLUSTER_SECRET: randomBytes(16).toString('base64') })).toThrow(
      expect.objectContaining({ code: 'RP_ERR_INVALID_ENV', variable: 'PROXY_CLUSTER_SECRET', message: expect.stringContaining('openssl rand -base64 32') }),
    );
    expect(() => readClusterSecretEnv('agent', { INTELI_CLUSTER_SECRET: newSecret(), INTELI_CLUSTER_SECRET_FILE: 'f' })).toThrow('not both');
  });
});

describe('inteli-agent --discover', () => {
  it('takes --discover instead of --proxy, with probes and an interface', () => {
    const config = parseAgentArgs([...AGENT, '--discover', '--probe', '127.0.0.0/30', '--probe', '127.0.0.9', '--discovery-interface', '127.0.0.1']);
    expect(config.options?.proxyUrl).toBeUndefined();
    expect(config.discover).toEqual({ probe: ['127.0.0.0/30', '127.0.0.9'], interface: '127.0.0.1' });
  });

  it('refuses --probe without --discover, --discover with --insecure, and neither --proxy nor --discover', () => {
    expect(() => parseAgentArgs([...AGENT, '--proxy', 'wss://x:1', '--probe', '127.0.0.1'])).toThrow('need --discover');
    expect(() => parseAgentArgs([...AGENT, '--discover', '--insecure'])).toThrow('remove --insecure');
    expect(() => parseAgentArgs(AGENT)).toThrow('--proxy (or --discover) is required');
  });

  it('exits 2 naming the variables when no secret is set', async () => {
    const io = collector();
    expect(await runAgentCli([...AGENT, '--discover'], io, { env: {} })).toBe(2);
    expect(io.err()).toMatch(/^inteli-agent: --discover needs INTELI_CLUSTER_SECRET or INTELI_CLUSTER_SECRET_FILE.*openssl rand -base64 32/);
  });

  it('exits 2 naming the variable when the secret is weak', async () => {
    const io = collector();
    expect(await runAgentCli([...AGENT, '--discover'], io, { env: { INTELI_CLUSTER_SECRET: 'c2hvcnQ=' } })).toBe(2);
    expect(io.err()).toContain('INTELI_CLUSTER_SECRET');
  });
});

describe('ProxyWebServer discovery option', () => {
  it('makes proxyUrl optional, and refuses insecure and a weak secret at new', () => {
    const base = { agentId: 'web1', key: 'web1.key.json', target: { host: '127.0.0.1', port: 8080 }, rules: ['/api'] };
    expect(new ProxyWebServer({ ...base, discovery: { secret: newSecret() } }).proxies).toEqual([]);
    expect(() => new ProxyWebServer({ ...base, insecure: true, discovery: { secret: newSecret() } })).toThrow('remove insecure');
    expect(() => new ProxyWebServer({ ...base, discovery: { secret: 'short' } })).toThrow(expect.objectContaining({ code: 'RP_ERR_CLUSTER_SECRET' }));
    expect(() => new ProxyWebServer(base)).toThrow('proxyUrl');
  });
});
