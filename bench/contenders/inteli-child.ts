/**
 * inteli-proxy under test: a `ProxyServer` in its own process, data plane on 127.0.0.1 port 0, backends
 * registered as configured in register-backends.ts. Access logs stay off (the library default logger is
 * silent), as they would be under load.
 */
import { ProxyServer } from '../../src/proxy/proxy-server.js';
import { childArgs, runChild } from '../lib/child-runtime.js';
import { observeTail } from '../lib/tail-observer.js';
import type { ForwarderArgs, ForwarderReady } from './forwarder-args.js';
import { proxyOptions, registerDirectly, registerScale, trustAgents } from './register-backends.js';

runChild<ForwarderReady>(async () => {
  const { backendPorts, scaleTargets = 0, scaleRules = 0, register = 'registry', clientKeepAliveTimeoutMs, observeFile } = childArgs<ForwarderArgs>();
  const mode = scaleTargets > 0 ? 'registry' : register;
  const proxy = new ProxyServer({ ...proxyOptions(mode), ...(clientKeepAliveTimeoutMs === undefined ? {} : { clientKeepAliveTimeoutMs }) });
  await proxy.start();
  const observer = observeFile === undefined ? undefined : observeTail();
  const stop = async (): Promise<void> => {
    if (observer !== undefined && observeFile !== undefined) observer.writeTo(observeFile);
    await proxy.stop();
  };
  const port = proxy.addresses.http?.port;
  if (port === undefined) throw new Error('ProxyServer reported no HTTP address');
  if (scaleTargets > 0) {
    const ms = await registerScale(proxy, scaleTargets, scaleRules);
    registerDirectly(proxy, backendPorts);
    return {
      ready: { port, note: `inteli-10k: ${scaleTargets} extra targets over ${scaleRules} rules registered in ${ms.toFixed(0)} ms` },
      stop,
    };
  }
  if (mode === 'agent') {
    const agents = await trustAgents(proxy, backendPorts.length);
    return {
      ready: { port, note: 'inteli: backends registered by ProxyWebServer agents over the control plane', agents },
      stop,
    };
  }
  registerDirectly(proxy, backendPorts);
  return { ready: { port, note: 'inteli: backends registered with proxy.registry.add' }, stop };
});
