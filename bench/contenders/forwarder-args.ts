/** Arguments and ready message shared by the Node forwarder children (undici, http-proxy, inteli). */
import type { AgentCredentials, RegistrationMode } from './register-backends.js';

/** Arguments every forwarder child receives. */
export interface ForwarderArgs {
  /** Ports of the backends on 127.0.0.1. */
  readonly backendPorts: number[];
  /** http-proxy only: use a keep-alive agent (true) or none, the common setup (false). */
  readonly keepAlive?: boolean;
  /** inteli only: register this many extra targets over `scaleRules` extra rules (the 10k scenario). */
  readonly scaleTargets?: number;
  /** inteli only: number of extra rules in the scale scenario. */
  readonly scaleRules?: number;
  /** inteli only: how the backends get registered. Default `registry`. */
  readonly register?: RegistrationMode;
  /** inteli only: idle time of client keep-alive connections (the `clients` scenario holds them). */
  readonly clientKeepAliveTimeoutMs?: number;
  /** inteli only: sample GC pauses and event-loop delay and write them to this file at stop (`tail`). */
  readonly observeFile?: string;
}

/** What a forwarder child reports when ready. */
export interface ForwarderReady {
  /** HTTP port on 127.0.0.1. */
  readonly port: number;
  /** Free-form note shown in the report (e.g. how backends were registered). */
  readonly note?: string;
  /** inteli in agent mode: what the backends' agents need to register. */
  readonly agents?: AgentCredentials;
}
