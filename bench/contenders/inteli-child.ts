/**
 * inteli-proxy under test: a `ProxyServer` in its own process, data plane on 127.0.0.1 port 0, backends
 * registered as configured in register-backends.ts. Access logs stay off (the library default logger is
 * silent), as they would be under load.
 */
import { ProxyServer } from '../../src/proxy/proxy-server.js';
import { childArgs, runChild } from '../lib/child-runtime.js';
import type { ForwarderArgs, ForwarderReady } from './forwarder-args.js';
import { REGISTRATION_MODE, registerDirectly, registerScale } from './register-backends.js';

runChild<ForwarderReady>(async () => {
  const { backendPorts, scaleTargets = 0, scaleRules = 0 } = childArgs<ForwarderArgs>();
  const proxy = new ProxyServer({ host: '127.0.0.1', port: 0 });
  await proxy.start();
  let note = `inteli: backends registered via ${REGISTRATION_MODE === 'registry' ? 'proxy.registry.add' : 'ProxyWebServer agents'}`;
  if (scaleTargets > 0) {
    const ms = await registerScale(proxy, scaleTargets, scaleRules);
    note = `inteli-10k: ${scaleTargets} extra targets over ${scaleRules} rules registered in ${ms.toFixed(0)} ms`;
  }
  registerDirectly(proxy, backendPorts);
  const port = proxy.addresses.http?.port;
  if (port === undefined) throw new Error('ProxyServer reported no HTTP address');
  return { ready: { port, note }, stop: () => proxy.stop() };
});
