/**
 * Metrics of the trust store and, in a fleet, of its Redis link, the shared replay cache and the
 * membership: registered on the proxy's own registry, read at scrape time.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { trustStaleness } from '../../shared/trust/trust-staleness.js';
import type { TrustStore } from '../../shared/trust/trust-store.js';
import type { ProxyFleet } from '../fleet/proxy-fleet.js';
import { METRIC_PREFIX } from './proxy-metrics.js';

/** What the trust metrics read. */
export interface TrustMetricsSource {
  readonly trustStore: TrustStore | undefined;
  readonly fleet: ProxyFleet | undefined;
}

/** Registers the trust and fleet metrics on `registry`. */
export function registerTrustMetrics(registry: Registry, source: TrustMetricsSource): void {
  const registers = [registry];
  const gauge = (name: string, help: string, read: () => number | undefined): void => {
    new Gauge({
      name: METRIC_PREFIX + name,
      help,
      registers,
      collect(this: Gauge) {
        const value = read();
        if (value === undefined) this.reset();
        else this.set(value);
      },
    });
  };
  const counter = (name: string, help: string, read: () => number | undefined): void => {
    new Counter({
      name: METRIC_PREFIX + name,
      help,
      registers,
      collect(this: Counter) {
        this.reset();
        const value = read();
        if (value !== undefined) this.inc(value);
      },
    });
  };
  const redis = (): ProxyFleet | undefined => source.fleet;

  gauge('trust_store_healthy', 'Whether the trust store may be used and is up to date (1) or not (0: a corrupt or unreadable file, key removals not yet written, or stale in a fleet).', () =>
    source.trustStore === undefined ? undefined : source.trustStore.health().ok ? 1 : 0,
  );
  gauge('trust_store_stale', 'In a fleet: 1 while the keys from Redis are past trustMaxStalenessMs and new sessions are refused (503).', () =>
    source.trustStore === undefined ? undefined : trustStaleness(source.trustStore) === undefined ? 0 : 1,
  );
  gauge('trust_sync_age_seconds', 'In a fleet: seconds since the trust store was last known current with Redis.', () => {
    const age = redis()?.trustStore.status().syncAgeMs;
    return age === undefined ? undefined : age / 1000;
  });
  gauge('trust_store_version', 'In a fleet: version of the shared trust store applied by this proxy.', () => redis()?.trustStore.status().version);
  counter('trust_rejected_entries_total', 'In a fleet: trust store entries in Redis that failed validation and were ignored (never trusted).', () => redis()?.trustStore.stats.rejectedEntries);
  counter('trust_full_reloads_total', 'In a fleet: full re-reads of every key (start, trimmed stream, lost data, tampered change).', () => redis()?.trustStore.stats.fullReloads);
  counter('trust_changes_applied_total', 'In a fleet: key changes applied from the Redis change stream, in order.', () => redis()?.trustStore.stats.appliedChanges);
  counter('trust_redis_disconnects_total', 'In a fleet: times the trust store lost contact with Redis.', () => redis()?.trustStore.stats.disconnects);
  counter('replay_cache_local_fallbacks_total', 'In a fleet: token replay checks decided by this proxy alone because Redis did not answer.', () => redis()?.replayCache.stats.localFallbacks);
  gauge('fleet_nodes', 'In a fleet: live proxies sharing this trust, this one included.', () => {
    const fleet = redis();
    return fleet === undefined ? undefined : fleet.membership.nodes().length;
  });
}
