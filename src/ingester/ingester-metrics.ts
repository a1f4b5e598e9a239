/** The ingester's metrics, read at scrape time from the totals it keeps (`Ingester.stats`). */
import client from 'prom-client';
import { counterFrom, processGauges } from '../metrics/snapshots.ts';
import type { Ingester } from './ingester.ts';

export function ingesterMetrics(ing: Pick<Ingester, 'stats' | 'demand' | 'tokenCount'>): { registry: client.Registry; stop(): void } {
  const registry = new client.Registry();
  const stop = processGauges(registry, 'ingester');
  counterFrom(registry, 'tickgate_ticks_in_total', 'valid feed messages the ingester received', [], () => [[{}, ing.stats.ticksIn]]);
  counterFrom(registry, 'tickgate_ticks_out_total', 'ticks the ingester published (with a seq) to the gateways', [], () => [[{}, ing.stats.ticksOut]]);
  counterFrom(registry, 'tickgate_ticks_rejected_total', 'feed messages the ingester refused, by reason', ['reason'],
    () => Object.entries(ing.stats.rejected).map(([reason, n]) => [{ reason }, n]));
  counterFrom(registry, 'tickgate_tokens_forgotten_total', 'tokens the ingester forgot after TOKEN_FORGET_S without a tick', [], () => [[{}, ing.stats.tokensForgotten]]);
  new client.Gauge({
    name: 'tickgate_ingester_tokens', help: 'tokens in the ingester\'s books (seen within TOKEN_FORGET_S, paused by name, or wanted)', registers: [registry],
    collect() {
      this.set(ing.tokenCount);
    },
  });
  new client.Gauge({
    name: 'tickgate_demand_tokens', help: 'tokens at least one gateway worker subscribes to', registers: [registry],
    collect() {
      this.set(ing.demand.size);
    },
  });
  return { registry, stop };
}
