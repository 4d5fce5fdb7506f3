/**
 * inteli-proxy for the HTTP/2 scenario: a `ProxyServer` whose HTTPS listener (a development certificate)
 * speaks h2, the backends registered directly. Reports the HTTPS port.
 */
import { ProxyServer } from '../../src/proxy/proxy-server.js';
import { generateDevCertificate } from '../../src/shared/tls/dev-certificate.js';
import { childArgs, runChild } from '../lib/child-runtime.js';
import type { ForwarderArgs, ForwarderReady } from './forwarder-args.js';
import { registerDirectly } from './register-backends.js';

runChild<ForwarderReady>(async () => {
  const { backendPorts } = childArgs<ForwarderArgs>();
  const proxy = new ProxyServer({ host: '127.0.0.1', port: 0, tlsPort: 0, tls: await generateDevCertificate(), control: false });
  await proxy.start();
  const port = proxy.addresses.https?.port;
  if (port === undefined) throw new Error('ProxyServer reported no HTTPS address');
  registerDirectly(proxy, backendPorts);
  return { ready: { port, note: 'inteli-h2: h2 on the HTTPS listener, HTTP/1.1 upstreams' }, stop: () => proxy.stop() };
});
