/** The outcome of one load measurement, whatever tool produced it. */
export interface LoadResult {
  /** Completed requests per second. */
  readonly rps: number;
  /** Median latency in milliseconds. */
  readonly p50Ms: number;
  /** 99th percentile latency in milliseconds. */
  readonly p99Ms: number;
  /** Requests completed. */
  readonly requests: number;
  /** Socket errors and timeouts. */
  readonly errors: number;
  /** Responses with a status other than 2xx/3xx. */
  readonly non2xx: number;
  /** Which tool measured it. */
  readonly tool: 'wrk' | 'autocannon';
}
