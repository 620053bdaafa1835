import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { LedgerStore } from '../lib/ledger/store.js';
import { registerSpendGauges } from './gauges.js';
import type { LeaseStats } from '../lib/ledger/leases/manager.js';
import type { GaugeOptions, GaugeSource } from './gauges.js';

/**
 * Prometheus metrics for GET /metrics. Each server has its own registry (several servers
 * in one test process must not share counters). Label children are cached per label set:
 * looking them up by object on every request costs more than the request's own work.
 */
export interface Metrics {
  readonly registry: Registry;
  request(route: string, method: string, status: number, seconds: number): void;
  decision(blocked: boolean, reason: string | null, clamped?: boolean): void;
  /** A record reached the server `lagSeconds` after it happened (outbox delay included). */
  recordLag(lagSeconds: number): void;
  render(): Promise<string>;
}

type CountFn = () => number;

export interface MetricsOptions {
  now?: () => number;
  defaults?: boolean;
  /** The ledger read behind the spend gauges (gauges.ts); absent: no spend gauges. */
  gauges?: { source: GaugeSource } & Partial<Pick<GaugeOptions, 'cacheMs' | 'seriesLimit'>>;
  /** The ledger's budget lease counters (PostgreSQL with leases=on); null or absent: no lease metrics. */
  leases?: LeaseStats | null;
}

export function createMetrics(store: LedgerStore, opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (opts.defaults !== false) collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'noburn_http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'noburn_http_request_duration_seconds',
    help: 'HTTP request latency by route (time in the server, body read included)',
    labelNames: ['route'],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 2.5],
    registers: [registry],
  });
  const decisions = new Counter({
    name: 'noburn_decisions_total',
    help: 'check decisions by outcome (allowed, blocked) and block reason',
    labelNames: ['outcome', 'reason'],
    registers: [registry],
  });
  const lag = new Histogram({
    name: 'noburn_record_delivery_lag_seconds',
    help: 'time from a call being recorded by a client to the record reaching the server (outbox lag)',
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300, 3600, 86400],
    registers: [registry],
  });
  const clampedChecks = new Counter({
    name: 'noburn_checks_clamped_total',
    help: 'checks allowed with a lowered output bound (clamp) since the server started',
    registers: [registry],
  });
  const now = opts.now ?? Date.now;
  if (opts.gauges) registerSpendGauges(registry, opts.gauges.source, { now, cacheMs: opts.gauges.cacheMs, seriesLimit: opts.gauges.seriesLimit });
  const openHolds = holdCounter(store, now);
  if (openHolds) {
    new Gauge({
      name: 'noburn_holds_open',
      help: 'reservations taken by check and not yet settled or expired',
      registers: [registry],
      collect() {
        this.set(openHolds());
      },
    });
  }

  const leases = opts.leases;
  if (leases) {
    new Gauge({
      name: 'noburn_lease_events_total',
      help: 'budget leases since the server started: checks approved from a lease (approved), grants, refused grants, W raises, checks that waited',
      labelNames: ['event'],
      registers: [registry],
      collect() {
        this.set({ event: 'approved' }, leases.approved);
        this.set({ event: 'grant' }, leases.grants);
        this.set({ event: 'grant_refused' }, leases.refusedGrants);
        this.set({ event: 'raise' }, leases.raises);
        this.set({ event: 'wait' }, leases.waits);
      },
    });
  }

  const reqChildren = new Map<string, Counter.Internal>();
  const latChildren = new Map<string, Histogram.Internal<'route'>>();
  const decChildren = new Map<string, Counter.Internal>();

  return {
    registry,
    request(route, method, status, seconds) {
      const k = `${route} ${method} ${status}`;
      let c = reqChildren.get(k);
      if (!c) reqChildren.set(k, (c = requests.labels(route, method, String(status))));
      c.inc();
      let h = latChildren.get(route);
      if (!h) latChildren.set(route, (h = latency.labels(route)));
      h.observe(seconds);
    },
    decision(blocked, reason, clamped = false) {
      if (clamped) clampedChecks.inc();
      const k = blocked ? (reason ?? 'unknown') : '';
      let c = decChildren.get(k);
      if (!c) decChildren.set(k, (c = decisions.labels(blocked ? 'blocked' : 'allowed', k)));
      c.inc();
    },
    recordLag(s) {
      lag.observe(Math.max(0, s));
    },
    render: () => registry.metrics(),
  };
}

/** Open holds, where the store can count them without I/O (SQLite); no gauge elsewhere. */
function holdCounter(store: LedgerStore, now: () => number): CountFn | null {
  if (!store.openHolds) return null;
  const count = store.openHolds.bind(store);
  return () => {
    try {
      return count(now());
    } catch {
      return NaN; // the store is closed (shutting down)
    }
  };
}
