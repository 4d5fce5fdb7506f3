/**
 * A share of the `agents`/`storm` scenarios' agents in one process: one real `ProxyWebServer` per key
 * (sidecar style, `target` instead of a server of its own), pinned WSS, default backoff and timeouts.
 * Each agent registers its own rule `/svc-<i>` with its own target port, never contacted (no request
 * matches those rules), as distinct services would. On `start` they all start at once and the child
 * answers `started` once every `start()` settled; `counts` answers how many are registered right now and
 * what the agents saw (retries by code, errors, disconnects).
 */
import { readFileSync } from 'node:fs';
import type { Ed25519PrivateJwk } from '../../src/shared/identity/key-pair.js';
import { ProxyWebServer } from '../../src/webserver-agent/proxy-web-server.js';
import { childArgs, runChild, sendToParent } from '../lib/child-runtime.js';

/** One agent: its key and what it registers. */
export interface FleetAgent {
  readonly id: string;
  readonly privateJwk: Ed25519PrivateJwk;
  readonly rule: string;
  readonly port: number;
}

/** Arguments from the parent (the agents come from a file: 500 private keys exceed an argv string). */
export interface AgentFleetArgs {
  /** One proxy, or several (the fleet scenario: one session with each). */
  readonly proxyUrl: string | readonly string[];
  readonly pin: string;
  readonly agentsFile: string;
}

/** What `started` and `counts` report. */
export interface FleetCounts {
  readonly agents: number;
  /** Agents holding a live, acknowledged registration now. */
  readonly registered: number;
  /** `start()` calls that rejected (an agent that gave up). */
  readonly startFailed: number;
  /** Milliseconds from `start` until every `start()` settled (only in `started`). */
  readonly startMs?: number;
  readonly retries: Readonly<Record<string, number>>;
  readonly errors: Readonly<Record<string, number>>;
  readonly disconnects: number;
  /** Agents whose state is no longer `running` (stopped on their own = gave up). */
  readonly notRunning: number;
}

runChild<{ agents: number }>(async () => {
  const { proxyUrl, pin, agentsFile } = childArgs<AgentFleetArgs>();
  const specs = JSON.parse(readFileSync(agentsFile, 'utf8')) as FleetAgent[];
  const retries: Record<string, number> = {};
  const errors: Record<string, number> = {};
  let disconnects = 0;
  let startFailed = 0;
  const agents = specs.map((spec) => {
    const agent = new ProxyWebServer({ proxyUrl, pin, agentId: spec.id, key: spec.privateJwk, rules: [spec.rule], target: { host: '127.0.0.1', port: spec.port } });
    agent.on('retrying', ({ code }) => (retries[code] = (retries[code] ?? 0) + 1));
    agent.on('error', (error) => (errors[error.code] = (errors[error.code] ?? 0) + 1));
    agent.on('disconnected', () => (disconnects += 1));
    return agent;
  });
  const counts = (): FleetCounts => ({
    agents: agents.length,
    registered: agents.filter((agent) => agent.registered).length,
    startFailed,
    retries: { ...retries },
    errors: { ...errors },
    disconnects,
    notRunning: agents.filter((agent) => agent.state !== 'running').length,
  });
  process.on('message', (message: unknown) => {
    const type = (message as { type?: unknown } | null)?.type;
    if (type === 'start') {
      const startedAt = performance.now();
      void Promise.allSettled(agents.map((agent) => agent.start())).then((outcomes) => {
        startFailed = outcomes.filter((outcome) => outcome.status === 'rejected').length;
        sendToParent('started', { ...counts(), startMs: performance.now() - startedAt });
      });
    } else if (type === 'counts') {
      sendToParent('counts', counts());
    }
  });
  return { ready: { agents: agents.length }, stop: async () => void (await Promise.allSettled(agents.map((agent) => agent.stop()))) };
});
