/**
 * The public surface, pinned: the names each package entry exports (`inteli-proxy`, `inteli-proxy/agent`,
 * `inteli-proxy/sysadmin`). Adding or removing a name is an API change; this test makes it a deliberate
 * one (update the list, the README and the changelog together).
 */
import { describe, expect, it } from '@jest/globals';

const AGENT = [
  'ControlError',
  'DEFAULT_AGENT_AUDIENCE',
  'DEFAULT_AGENT_HOST',
  'DEFAULT_CLOSE_GRACE_MS',
  'DEFAULT_DRAIN_TIMEOUT_MS',
  'DEFAULT_HANDSHAKE_TIMEOUT_MS',
  'DEFAULT_IDLE_TIMEOUT_MS',
  'DEFAULT_REQUEST_TIMEOUT_MS',
  'ProxyError',
  'ProxyWebServer',
  'isProxyError',
  'nextBackoffDelay',
  'parseServerMessage',
  'resolveAgentOptions',
  'resolveBackoffOptions',
  'runAgentCli',
];

const SYSADMIN = [
  'ControlError',
  'DEFAULT_ADMIN_ID',
  'DEFAULT_INIT_CERTSTORE',
  'DEFAULT_INIT_OUT',
  'DEFAULT_SYSADMIN_AUDIENCE',
  'DEFAULT_SYSADMIN_HANDSHAKE_TIMEOUT_MS',
  'DEFAULT_SYSADMIN_IDLE_TIMEOUT_MS',
  'DEFAULT_SYSADMIN_REQUEST_TIMEOUT_MS',
  'DEFAULT_SYSADMIN_TOKEN_TTL_SECONDS',
  'EXIT_FAILURE',
  'EXIT_OK',
  'EXIT_USAGE',
  'ProxyError',
  'ProxySysAdmin',
  'SYSADMIN_COMMANDS',
  'initAdmin',
  'isProxyError',
  'loadPublicKey',
  'resolveSysAdminOptions',
  'runCli',
  'writeKeyPair',
];

/** The root entry: the proxy's own names, plus everything of the two subpaths. */
const ROOT_ONLY = [
  'BackendRegistry',
  'CloseCode',
  'ClusterPrimary',
  'ControlPlane',
  'DEFAULT_ADMIN_AUDIENCE',
  'DEFAULT_ADMIN_HOST',
  'DEFAULT_ADMIN_PORT',
  'DEFAULT_CERTSTORE_DIR',
  'ERROR_CATALOG',
  'FileTrustStore',
  'FleetMembership',
  'LeastInFlightSelector',
  'MemoryReplayCache',
  'MemoryTrustStore',
  'ProxyHost',
  'ProxyServer',
  'RedisReplayCache',
  'RedisTrustStore',
  'RoundRobinSelector',
  'SELECTORS',
  'SUBPROTOCOL',
  'TokenVerifier',
  'TrustStore',
  'WeightedRoundRobinSelector',
  'createMemoryTrustStore',
  'fingerprint',
  'generateDevCertificate',
  'generateKeyPair',
  'leastInFlight',
  'openFileTrustStore',
  'parseRule',
  'publicKeyFromPem',
  'publicKeyPin',
  'resolveProxyOptions',
  'roundRobin',
  'ruleKey',
  'signToken',
  'weightedRoundRobin',
];

const sorted = (names: Iterable<string>): string[] => [...new Set(names)].sort();

describe('public exports', () => {
  it('inteli-proxy/agent exports exactly the agent names', async () => {
    expect(sorted(Object.keys(await import('../../../src/webserver-agent/index.js')))).toEqual(sorted(AGENT));
  });

  it('inteli-proxy/sysadmin exports exactly the sysadmin names', async () => {
    expect(sorted(Object.keys(await import('../../../src/sysadmin/index.js')))).toEqual(sorted(SYSADMIN));
  });

  it('inteli-proxy exports the proxy names and both subpaths', async () => {
    expect(sorted(Object.keys(await import('../../../src/index.js')))).toEqual(sorted([...ROOT_ONLY, ...AGENT, ...SYSADMIN]));
  });

  it('package.json maps the entries to the built files', async () => {
    const { readFile } = await import('node:fs/promises');
    const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { exports: Record<string, { default: string } | string> };
    expect(pkg.exports).toMatchObject({
      '.': { types: './dist/src/index.d.ts', default: './dist/src/index.js' },
      './agent': { types: './dist/src/webserver-agent/index.d.ts', default: './dist/src/webserver-agent/index.js' },
      './sysadmin': { types: './dist/src/sysadmin/index.d.ts', default: './dist/src/sysadmin/index.js' },
    });
  });
});
