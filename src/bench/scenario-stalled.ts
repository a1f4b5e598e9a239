/**
 * Stalled readers: the fan-out shape at half the ramp's knee, with one socket in twenty watching
 * every token; after a window with every socket reading, those stop reading (their TCP stream is
 * no longer read, as with a client stuck in a long computation). What it shows: whether the healthy 95% notice (their p99 against
 * the window before), what the server's memory does, and how the stalled sockets were treated —
 * tickgate switches them to latest-value delivery and closes them 4009 after SLOW_CLOSE_MS, as
 * its /metrics count; the bare server just drops what does not fit in their send buffer.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { metricByLabel, metricValue } from './metrics-text.ts';
import { attachRatios, type Measurement, type ScenarioReport } from './report.ts';
import { fanoutShape } from './scenario-fanout.ts';
import { eachTarget, perSecond, withFeed, type ScenarioContext, type ScenarioDef } from './scenario-kit.ts';

/** One socket in this many stops reading: 5%. */
const STALL_EVERY = 20;
const SLOW_CLOSE_MS = 5_000;
const QUICK_SLOW_CLOSE_MS = 1_500;
const STALLED_WINDOW_S = 45;
/** After the window, how long tickgate may take to close every stalled socket 4009 (not in --quick). */
const CLOSE_WAIT_S = 90;
const HEARTBEAT_MS = 300_000;

/** Half the tickgate knee the ramp found in this run, else a default. */
export function stalledRate(ctx: ScenarioContext): { rate: number; from: string } {
  if (ctx.rate !== undefined) return { rate: ctx.rate, from: '--rate' };
  const fallback = ctx.quick ? 500 : 2_500;
  const ramp = ctx.earlier.get('fanout-ramp');
  if (!ramp) return { rate: fallback, from: 'default: fanout-ramp did not run' };
  const knee = (ramp.summary.knee as Record<string, { knee: number | null }> | undefined)?.tickgate?.knee;
  if (typeof knee === 'number') return { rate: Math.max(100, Math.round(knee / 2)), from: 'half the tickgate knee of fanout-ramp' };
  return { rate: fallback, from: 'default: fanout-ramp found no tickgate knee' };
}

async function tickgateCounts(metrics: () => Promise<string | undefined>) {
  const text = await metrics();
  if (text === undefined) return undefined;
  return {
    closes: metricByLabel(text, 'tickgate_closes_total', 'code'),
    conflations: metricValue(text, 'tickgate_conflation_events_total') ?? 0,
    sockets: metricValue(text, 'tickgate_sockets') ?? 0,
  };
}

function closesSince(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [code, n] of Object.entries(after)) if (n - (before[code] ?? 0) > 0) out[code] = n - (before[code] ?? 0);
  return out;
}

/** What became of the stalled sockets on one server. */
interface Treatment {
  stalledSockets: number;
  /** From the stall to the last /metrics reading, s. */
  stalledForS: number;
  serverRssKiB: { before: number; after: number };
  healthyP99Ms: { before: number; after: number };
  /** tickgate only (from /metrics): closes during the phase by code, conflation switches, sockets left. */
  closedByCode?: Record<string, number>;
  conflated?: number;
  openSocketsAfter?: number;
}

export const stalled: ScenarioDef = {
  name: 'stalled',
  about: 'fan-out at half the knee, then 5% of sockets stop reading: healthy sockets\' p99 before/after, server RSS, how the stalled were treated',
  async run(ctx) {
    // The sockets that will stall watch every token: a stalled ltp socket with 10 tokens gets so
    // few bytes a second that the kernel's buffers (several MiB on loopback) would hold minutes of
    // them before the server saw any backpressure. Both windows have the same subscriptions.
    const shape = { ...fanoutShape(ctx), everyToken: (i: number) => i % STALL_EVERY === 0 };
    const { rate, from } = stalledRate(ctx);
    const slowCloseMs = ctx.quick ? QUICK_SLOW_CLOSE_MS : SLOW_CLOSE_MS;
    const stallIndexes = Array.from({ length: Math.ceil(shape.connections / STALL_EVERY) }, (_, k) => k * STALL_EVERY);
    // A stalled socket first fills the kernel's buffers (on loopback easily a megabyte or two),
    // then the server's; only then is it conflated, and closed SLOW_CLOSE_MS later. With small
    // ltp ticks that takes a while: the window is long, and tickgate gets extra time after it.
    const stalledWindowS = ctx.quick ? Math.max(ctx.durationS, 4) : Math.max(ctx.durationS, STALLED_WINDOW_S);
    const measurements: Measurement[] = [];
    const treatment: Record<string, Treatment> = {};
    await withFeed(shape.tokens, (feed, endpoint) => eachTarget(ctx, feed, endpoint, shape, async (session) => {
      await session.connect();
      feed.setRate(rate);
      await session.warmUp(ctx.warmupS);
      const before = await session.measure('no stall', ctx.durationS);
      measurements.push(before);
      const countsBefore = await tickgateCounts(() => session.target.metrics());
      const stalledNow = await session.stall(stallIndexes);
      const stalledAt = performance.now();
      ctx.say(`${session.target.kind}: ${stalledNow} sockets stopped reading`);
      const after = await session.measure(`${Math.round(100 / STALL_EVERY)}% stalled`, stalledWindowS);
      measurements.push(after);
      // /metrics is published every second: give the last closes time to show up, and without
      // --quick wait (bounded) until every stalled socket is closed.
      let countsAfter = await tickgateCounts(() => session.target.metrics());
      const closeDeadline = Date.now() + (ctx.quick ? 1_500 : CLOSE_WAIT_S * 1000);
      while (countsBefore && countsAfter && (countsAfter.closes['4009'] ?? 0) - (countsBefore.closes['4009'] ?? 0) < stalledNow && Date.now() < closeDeadline) {
        await sleep(1_000, undefined, { signal: session.signal });
        countsAfter = await tickgateCounts(() => session.target.metrics());
      }
      const stalledForS = Math.round((performance.now() - stalledAt) / 100) / 10;
      treatment[session.target.kind] = {
        stalledSockets: stalledNow,
        stalledForS,
        serverRssKiB: { before: before.serverRssKiB, after: after.serverRssKiB },
        healthyP99Ms: { before: before.latencyMs.p99, after: after.latencyMs.p99 },
        ...(countsBefore && countsAfter ? {
          closedByCode: closesSince(countsBefore.closes, countsAfter.closes),
          conflated: countsAfter.conflations - countsBefore.conflations,
          openSocketsAfter: countsAfter.sockets,
        } : {}),
      };
    }, {
      SLOW_CLOSE_MS: String(slowCloseMs),
      // A socket that reads nothing answers no ping either: with the default heartbeat it is
      // closed 4000 after 30 s, usually before its buffers have filled. A longer heartbeat lets
      // the slow-consumer path (conflate, then 4009) be what handles it, which is what is measured.
      HEARTBEAT_MS: String(HEARTBEAT_MS),
    }));
    attachRatios(measurements);
    const notes = [`${perSecond(rate)} ticks (${from}); ${stallIndexes.length} of ${shape.connections} sockets stall; tickgate with SLOW_CLOSE_MS=${slowCloseMs}, HEARTBEAT_MS=${HEARTBEAT_MS}`];
    for (const [kind, t] of Object.entries(treatment)) {
      const rss = `RSS ${Math.round(t.serverRssKiB.before / 1024)} → ${Math.round(t.serverRssKiB.after / 1024)} MiB`;
      const closed = Object.entries(t.closedByCode ?? {}).map(([code, n]) => `${n} closed ${code}`).join(', ') || 'none closed';
      const treated = t.closedByCode === undefined
        ? 'no slow-consumer handling: stalled sockets stay open, ticks beyond their send buffer are skipped'
        : `${t.conflated} switched to latest-value delivery, ${closed} within ${t.stalledForS} s of stalling`;
      notes.push(`${kind}: healthy p99 ${t.healthyP99Ms.before} → ${t.healthyP99Ms.after} ms; ${rss}; ${treated}`);
    }
    return { name: this.name, about: this.about, measurements, summary: { rate, rateFrom: from, slowCloseMs, stalled: treatment }, notes } satisfies ScenarioReport;
  },
};
