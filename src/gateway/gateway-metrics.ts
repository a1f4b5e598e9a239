/**
 * A gateway worker's metrics. Almost all are read at scrape time from totals the worker keeps
 * anyway (the socket registry, the ingest link's stats, the error counts), so the tick path pays
 * nothing for them beyond the counts it already did.
 */
import type { Redis } from 'ioredis';
import client from 'prom-client';
import { ErrorCodes, type ErrorCode } from '../protocol/error-codes.ts';
import { counterFrom, processGauges } from '../metrics/snapshots.ts';
import { eventCounts } from './event-counts.ts';
import type { IngestLink } from './ingest-link.ts';
import type { SocketRegistry } from './socket-model.ts';

const MODES = ['ltp', 'quote', 'full'] as const;
/** Feed `ts` to this worker's publish, seconds. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5];

export interface GatewayMetrics {
  registry: client.Registry;
  /** A sampled published tick (its ltp JSON carries the feed `ts`). */
  observeLatency(ltpJson: Buffer | string): void;
  stop(): void;
}

/** The feed `ts` of a tick encoding, found without parsing the JSON. */
function tsOf(json: Buffer | string): number | undefined {
  const s = typeof json === 'string' ? json : json.toString('latin1', 0, Math.min(json.length, 160));
  const at = s.indexOf('"ts":');
  if (at < 0) return undefined;
  const n = parseInt(s.slice(at + 5, at + 25), 10);
  return Number.isFinite(n) ? n : undefined;
}

const isAuthFailure = (code: string) => ErrorCodes[code as ErrorCode]?.status === 401 || code === 'forbidden_origin';
const isRateLimit = (code: string) => ErrorCodes[code as ErrorCode]?.status === 429;

export function gatewayMetrics(deps: { registry: SocketRegistry; link: IngestLink; redis: Redis; busReady: () => boolean }): GatewayMetrics {
  const registry = new client.Registry();
  const stopProcess = processGauges(registry, 'gateway');
  const { registry: sockets, link } = deps;

  new client.Gauge({
    name: 'tickgate_sockets', help: 'open WebSocket connections', registers: [registry],
    collect() {
      let n = 0;
      for (const ws of sockets.all()) if (!ws.getUserData().closed) n++;
      this.set(n);
    },
  });
  new client.Gauge({
    name: 'tickgate_subscriptions', help: 'token subscriptions over all open sockets', registers: [registry],
    collect() {
      let n = 0;
      for (const ws of sockets.all()) {
        const actor = ws.getUserData().actor;
        if (actor && actor.getSnapshot().status === 'active') n += actor.getSnapshot().context.subscriptions.size;
      }
      this.set(n);
    },
  });
  counterFrom(registry, 'tickgate_deliveries_total', 'tick messages sent to sockets, by mode (subscribers of the topic at each publish; snapshots and throttled sends not included)', ['mode'],
    () => MODES.map((mode, i) => [{ mode }, link.stats.deliveries[i]!]));
  counterFrom(registry, 'tickgate_worker_ticks_in_total', 'tick messages a worker received from the ingester', [], () => [[{}, link.ticksIn]]);
  counterFrom(registry, 'tickgate_worker_ticks_published_total', 'ticks a worker published to its sockets (live or recovered from history)', [], () => [[{}, link.stats.ticksForwarded]]);
  counterFrom(registry, 'tickgate_gaps_detected_total', 'seq gaps a worker saw on the ingest link', [], () => [[{}, link.stats.gapsDetected]]);
  counterFrom(registry, 'tickgate_ticks_recovered_total', 'ticks a worker refilled from history after a gap', [], () => [[{}, link.stats.ticksRecovered]]);
  counterFrom(registry, 'tickgate_gap_messages_total', '`gap` messages published (loss history could not cover)', [], () => [[{}, link.stats.gapMessages]]);
  counterFrom(registry, 'tickgate_ticks_lost_total', 'ticks named in `gap` messages', [], () => [[{}, link.stats.ticksLost]]);
  counterFrom(registry, 'tickgate_closes_total', 'sockets the server closed, by close code', ['code'],
    () => Object.entries(sockets.closedWith).map(([code, n]) => [{ code }, n]));
  counterFrom(registry, 'tickgate_conflation_events_total', 'sockets switched to latest-value delivery because they fell behind', [], () => [[{}, eventCounts.conflations]]);
  counterFrom(registry, 'tickgate_http_errors_total', 'HTTP error replies (REST and refused upgrades), by code', ['code'],
    () => Object.entries(eventCounts.http).map(([code, n]) => [{ code }, n!]));
  counterFrom(registry, 'tickgate_ws_errors_total', '`error` messages sent on sockets, by code', ['code'],
    () => Object.entries(eventCounts.ws).map(([code, n]) => [{ code }, n!]));
  counterFrom(registry, 'tickgate_auth_failures_total', 'refused authentication (REST and upgrades), by reason', ['reason'],
    () => Object.entries(eventCounts.http).filter(([c]) => isAuthFailure(c)).map(([reason, n]) => [{ reason }, n!]));
  counterFrom(registry, 'tickgate_rate_limit_hits_total', 'requests, upgrades and socket messages refused by a rate or count limit, by code', ['code'],
    () => [
      ...Object.entries(eventCounts.http).filter(([c]) => isRateLimit(c)).map(([code, n]): [Record<string, string>, number] => [{ code }, n!]),
      ...Object.entries(eventCounts.ws).filter(([c]) => c === 'rate_limited').map(([code, n]): [Record<string, string>, number] => [{ code: `ws_${code}` }, n!]),
    ]);
  new client.Gauge({
    name: 'tickgate_redis_up', help: '1 when every worker has its Redis connections (commands and bus) ready', registers: [registry], aggregator: 'min',
    collect() {
      this.set(deps.redis.status === 'ready' && deps.busReady() ? 1 : 0);
    },
  });
  new client.Gauge({
    name: 'tickgate_ingest_link_up', help: '1 when every worker hears the ingester', registers: [registry], aggregator: 'min',
    collect() {
      this.set(link.up ? 1 : 0);
    },
  });
  const latency = new client.Histogram({
    name: 'tickgate_tick_latency_seconds', help: 'feed `ts` to worker publish, sampled (one tick in 64)', buckets: LATENCY_BUCKETS, registers: [registry],
  });
  return {
    registry,
    observeLatency(json) {
      const ts = tsOf(json);
      if (ts !== undefined) latency.observe(Math.max(0, Date.now() - ts) / 1000);
    },
    stop: stopProcess,
  };
}
