/**
 * The ingester alone (no gateway, no sockets): CPU per tick at 10,000 ticks/s and the highest rate
 * it keeps up with. Bare uWS has no ingester; the baseline here is bare-relay.ts, the same feed
 * moved through zeromq.js with no work at all, in the same run: the floor the transport sets. The
 * work is in ingest-only.ts, which also runs standalone (`npx tsx src/bench/ingest-only.ts`).
 */
import { runIngestOnly } from './ingest-only.ts';
import type { ScenarioDef } from './scenario-kit.ts';

export const ingestOnly: ScenarioDef = {
  name: 'ingest-only',
  about: 'the ingester alone: feed → validate → seq → history → XPUB, no sockets; µs of CPU per tick, highest sustained rate',
  async run(ctx) {
    const r = await runIngestOnly({ durationS: ctx.durationS, quick: ctx.quick });
    const at10k = r.at10k;
    const notes = [
      at10k
        ? `${at10k.ingesterUsPerTick.toFixed(1)} µs ingester CPU per tick at 10,000 ticks/s (Redis ${at10k.redisUsPerTick.toFixed(1)} µs more), about ${r.perCoreAt10kCostPerS?.toFixed(0)} ticks/s per core at that cost`
        : 'the 10,000 ticks/s step did not run',
      `kept up with up to ${r.maxSustainedPerS} ticks/s offered (load average ${r.loadAverage.map((l) => l.toFixed(1)).join(' ')})`,
    ];
    if (r.relay) {
      const relay10k = r.relay.at10k;
      notes.push(relay10k
        ? `bare zeromq.js relay on the same feed: ${relay10k.relayUsPerTick.toFixed(1)} µs per tick at 10,000 ticks/s (the ingester ${r.ratioToRelayAt10k}× that), kept up with up to ${r.relay.maxSustainedPerS} ticks/s`
        : `bare zeromq.js relay: kept up with up to ${r.relay.maxSustainedPerS} ticks/s`);
    }
    return { name: 'ingest-only', about: this.about, measurements: [], notes, summary: { ...r } };
  },
};
