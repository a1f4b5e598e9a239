/**
 * `/metrics` aggregated over every process: each gateway worker and the ingester write their
 * prom-client registry (as JSON) to Redis every second, with a short expiry; whichever worker
 * answers `/metrics` reads them all, replaces its own by its live registry, and merges them with
 * prom-client's aggregator (counters and histograms summed; each gauge says how it combines).
 * A process that stopped disappears from the sums once its snapshot expires.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import client, { AggregatorRegistry, type Registry } from 'prom-client';
import { Keys } from '../store/keys.ts';

const PUBLISH_EVERY_MS = 1_000;
const SNAPSHOT_TTL_S = 10;

export type Role = 'gateway' | 'ingester' | 'supervisor';

/** Gauges every process has: event-loop lag (worst over processes of a role) and up. */
export function processGauges(registry: Registry, role: Role): () => void {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  new client.Gauge({
    name: 'tickgate_event_loop_lag_seconds', help: 'event-loop delay, p99 over the last scrape interval (worst process of the role)',
    labelNames: ['role'], registers: [registry], aggregator: 'max',
    collect() {
      this.set({ role }, Number.isFinite(delay.percentile(99)) ? delay.percentile(99) / 1e9 : 0);
      delay.reset();
    },
  });
  new client.Gauge({
    name: 'tickgate_processes', help: 'processes publishing metrics, by role', labelNames: ['role'], registers: [registry], aggregator: 'sum',
    collect() {
      this.set({ role }, 1);
    },
  });
  return () => delay.disable();
}

/** A counter whose value is read from a running total the code already keeps. */
export function counterFrom(registry: Registry, name: string, help: string, labelNames: string[], read: () => [Record<string, string | number>, number][]): void {
  new client.Counter({
    name, help, labelNames, registers: [registry],
    collect() {
      this.reset();
      for (const [labels, v] of read()) this.inc(labels, v);
    },
  });
}

export class MetricsPublisher {
  private timer: NodeJS.Timeout | undefined;
  readonly processId: string;

  constructor(private readonly redis: Redis, readonly registry: Registry, role: Role, private readonly log: Logger) {
    this.processId = `${role}:${process.pid}`;
  }

  start(): void {
    this.timer = setInterval(() => void this.publish(), PUBLISH_EVERY_MS);
    this.timer.unref();
    void this.publish();
  }

  async publish(): Promise<void> {
    if (this.redis.status !== 'ready') return;
    try {
      const json = JSON.stringify(await this.registry.getMetricsAsJSON());
      await this.redis.multi()
        .set(Keys.metricsSnapshot(this.processId), json, 'EX', SNAPSHOT_TTL_S)
        .sadd(Keys.metricsProcesses, this.processId)
        .exec();
    } catch (err) {
      this.log.debug({ err }, 'could not publish metrics');
    }
  }

  /** Stops publishing; the last snapshot stays until it expires, so a stopped process's totals fade out. */
  stop(): void {
    clearInterval(this.timer);
  }
}

/**
 * The Prometheus text of every process together. The answering process uses its live registry;
 * the others' snapshots are at most a second old. Without Redis, only this process is shown.
 */
export async function aggregatedMetrics(redis: Redis, own: MetricsPublisher): Promise<{ text: string; contentType: string }> {
  const all: object[] = [await own.registry.getMetricsAsJSON()];
  if (redis.status === 'ready') {
    const ids = (await redis.smembers(Keys.metricsProcesses)).filter((id) => id !== own.processId);
    if (ids.length > 0) {
      const values = await redis.mget(ids.map(Keys.metricsSnapshot));
      const gone: string[] = [];
      values.forEach((v, i) => (v === null ? gone.push(ids[i]!) : all.push(JSON.parse(v) as object)));
      if (gone.length > 0) await redis.srem(Keys.metricsProcesses, ...gone);
    }
  }
  const merged = AggregatorRegistry.aggregate(all);
  return { text: await merged.metrics(), contentType: merged.contentType };
}
