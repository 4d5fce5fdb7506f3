/** The contenders that are Node processes: direct (no proxy), inteli-proxy, the bare undici forwarder, http-proxy. */
import { startChild } from '../lib/child-process.js';
import type { ContenderContext, ContenderSpec, RunningContender } from './contender.js';
import type { ForwarderArgs, ForwarderReady } from './forwarder-args.js';

/** Extra targets and rules of the `inteli-10k` scenario. */
export const SCALE_TARGETS = 10_000;
/** Rules those targets are spread over. */
export const SCALE_RULES = 1_000;

function nodeForwarder(name: string, script: string, args: Omit<ForwarderArgs, 'backendPorts'>, websocket: boolean): ContenderSpec {
  return {
    name,
    websocket,
    path: '/',
    unavailable: () => undefined,
    async start(context: ContenderContext): Promise<RunningContender> {
      const profile = context.profileDir !== undefined && context.profile.includes(name);
      const execArgv = profile ? ['--cpu-prof', '--cpu-prof-dir', context.profileDir!, '--cpu-prof-name', `${name}.cpuprofile`] : [];
      const inteli = name.startsWith('inteli');
      if (inteli) execArgv.push(...(context.inteliFlags ?? []));
      const extra: Partial<ForwarderArgs> = inteli
        ? {
            ...(context.clientKeepAliveTimeoutMs === undefined ? {} : { clientKeepAliveTimeoutMs: context.clientKeepAliveTimeoutMs }),
            ...(context.observeFile === undefined || name !== 'inteli' ? {} : { observeFile: context.observeFile }),
          }
        : {};
      const child = await startChild<ForwarderReady>(
        new URL(script, import.meta.url),
        { register: context.register, ...args, ...extra, backendPorts: context.backendPorts } satisfies ForwarderArgs,
        { execArgv, readyTimeoutMs: 60_000 },
      );
      if (child.ready.agents !== undefined) {
        try {
          await context.registerAgents(child.ready.agents);
        } catch (error) {
          await child.stop();
          throw error;
        }
      }
      return { url: `http://127.0.0.1:${child.ready.port}`, pid: child.pid, note: child.ready.note, stop: () => child.stop() };
    },
  };
}

/** Straight to the first backend: the limit every proxy is compared with. */
export const directContender: ContenderSpec = {
  name: 'direct',
  websocket: true,
  path: '/',
  unavailable: () => undefined,
  start: (context) =>
    Promise.resolve({ url: `http://127.0.0.1:${context.backendPorts[0]}`, pid: undefined, stop: () => Promise.resolve() }),
};

/** inteli-proxy with the two backends. */
export const inteliContender = nodeForwarder('inteli', './inteli-child.js', {}, true);
/** inteli-proxy with 10,000 more targets over 1,000 more rules; must cost the same per request. */
export const inteliScaleContender = nodeForwarder('inteli-10k', './inteli-child.js', { scaleTargets: SCALE_TARGETS, scaleRules: SCALE_RULES, register: 'registry' }, false);
/** inteli-proxy in 2 cluster workers sharing the port (both cores). */
export const inteliClusterContender = nodeForwarder('inteli-x2', './inteli-cluster-child.js', { register: 'registry' }, true);
/** The bare undici Pool forwarder. */
export const undiciContender = nodeForwarder('undici-bare', './undici-forwarder-child.js', {}, false);
/** http-proxy 1.18.1 with a keep-alive agent. */
export const httpProxyKeepAliveContender = nodeForwarder('http-proxy-ka', './http-proxy-child.js', { keepAlive: true }, false);
/** http-proxy 1.18.1 without an agent (the common setup: a new upstream connection per request). */
export const httpProxyContender = nodeForwarder('http-proxy', './http-proxy-child.js', { keepAlive: false }, false);
