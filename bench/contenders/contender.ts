/** What the bench knows about a contender: how to start it and where to send load. */


/** A started contender. */
export interface RunningContender {
  /** Base URL for HTTP load, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  /** Process whose tree's CPU and RSS are reported; undefined for "direct" (no proxy in the path). */
  readonly pid: number | undefined;
  /** Shown under the table, e.g. how backends were registered. */
  readonly note?: string | undefined;
  /** Stops the contender; idempotent. */
  stop(): Promise<void>;
}

import type { AgentCredentials, RegistrationMode } from './register-backends.js';

/** Everything a contender may need to start. */
export interface ContenderContext {
  /** How inteli registers the backends. */
  readonly register: RegistrationMode;
  /** Has the backends child register through agents with these credentials; resolves once acknowledged. */
  registerAgents(credentials: AgentCredentials): Promise<void>;
  /** Backend ports on 127.0.0.1. */
  readonly backendPorts: number[];
  /** Temporary directory for generated configs, pid files and logs. */
  readonly tmpDir: string;
  /** When set, Node contenders named in `profile` run with `--cpu-prof` and write profiles here. */
  readonly profileDir?: string | undefined;
  /** Names of the contenders to profile. */
  readonly profile: readonly string[];
  /** Extra Node flags for the inteli processes. Default none. */
  readonly inteliFlags?: readonly string[];
  /** Client connections the contender must hold at once (nginx sizes `worker_connections`). Default 2,000. */
  readonly maxClientConnections?: number;
  /** inteli: idle time of client keep-alive connections. Default the proxy's. */
  readonly clientKeepAliveTimeoutMs?: number;
  /** inteli: where its child writes GC and event-loop delay observations at stop (`tail`). */
  readonly observeFile?: string;
}

/** A contender the bench can run. */
export interface ContenderSpec {
  /** Short stable name used in the table, JSON and `--contenders`. */
  readonly name: string;
  /** Whether it proxies WebSocket upgrades (then it is part of the echo test). */
  readonly websocket: boolean;
  /** Path requested under load (the 10k scenario uses a path under one of its many rules). */
  readonly path: string;
  /** Returns why the contender cannot run here (e.g. "nginx not installed"), or undefined. */
  unavailable(): string | undefined;
  /** Starts it. */
  start(context: ContenderContext): Promise<RunningContender>;
}
