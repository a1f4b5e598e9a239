/**
 * Fan-out: 1,000 sockets each watching 10 of 100 tokens (about 100 subscribers per token), ltp
 * mode. `fanout-ramp` steps the offered rate up until a step fails (p99 over 100 ms or under 99%
 * delivered) and reports each server's knee; `fanout` holds one rate (10,000 ticks/s: a million
 * deliveries a second offered) and compares tickgate with the baseline there.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_RAMP_LIMITS, rampContinues, rampKnee, type RampStep } from './ramp.ts';
import { attachRatios, type Measurement, type ScenarioReport } from './report.ts';
import { eachTarget, perSecond, withFeed, type ScenarioContext, type ScenarioDef } from './scenario-kit.ts';
import type { Shape } from './session.ts';

const RAMP_RATES = [2_000, 5_000, 10_000, 15_000, 20_000, 30_000];
const QUICK_RAMP_RATES = [500, 1_000, 2_000];
/** After a rate change, before the window: the pipeline settles at the new rate. */
const SETTLE_S = 1;

export function fanoutShape(ctx: ScenarioContext): Shape {
  return { connections: ctx.connections ?? (ctx.quick ? 200 : 1_000), tokens: 100, tokensPerConnection: 10, mode: 'ltp' };
}

export const fanoutRamp: ScenarioDef = {
  name: 'fanout-ramp',
  about: '1,000 sockets × 10 of 100 tokens, ltp; the rate steps up until p99 > 100 ms or < 99% delivered: the knee, bare and tickgate',
  async run(ctx) {
    const shape = fanoutShape(ctx);
    const rates = ctx.rampRates ?? (ctx.quick ? QUICK_RAMP_RATES : RAMP_RATES);
    const measurements: Measurement[] = [];
    const verdicts: Record<string, ReturnType<typeof rampKnee>> = {};
    await withFeed(shape.tokens, (feed, endpoint) => eachTarget(ctx, feed, endpoint, shape, async (session) => {
      await session.connect();
      feed.setRate(rates[0]!);
      await session.warmUp(ctx.warmupS);
      const steps: RampStep[] = [];
      for (const rate of rates) {
        if (!rampContinues(steps)) break;
        feed.setRate(rate);
        ctx.say(`${session.target.kind}: ${perSecond(rate)} ticks`);
        await sleep((ctx.quick ? SETTLE_S / 2 : SETTLE_S) * 1000, undefined, { signal: session.signal });
        const m = await session.measure(perSecond(rate), ctx.durationS);
        measurements.push(m);
        steps.push({ rate, p99Ms: m.latencyMs.p99, deliveryRatio: m.deliveryRatio });
        ctx.say(`${session.target.kind}: ${perSecond(m.deliveredMsgsPerSec)} delivered (${(m.deliveryRatio * 100).toFixed(1)}%), p50/p99 ${m.latencyMs.p50}/${m.latencyMs.p99} ms, server ${m.serverCores} cores, busiest client ${Math.max(...m.clientCores)}`);
      }
      verdicts[session.target.kind] = rampKnee(steps);
    }));
    attachRatios(measurements);
    const notes = Object.entries(verdicts).map(([kind, v]) => {
      const knee = v.knee === null ? `below ${perSecond(rates[0]!)}` : `${perSecond(v.knee)} ticks (${perSecond(v.knee * shape.connections * shape.tokensPerConnection / shape.tokens)} deliveries offered)`;
      return `${kind} knee ${knee}${v.failedAt === null ? ', every step passed' : `; failed at ${perSecond(v.failedAt)}: ${v.reason}`}`;
    });
    return { name: this.name, about: this.about, measurements, summary: { limits: DEFAULT_RAMP_LIMITS, rates, knee: verdicts }, notes } satisfies ScenarioReport;
  },
};

export const fanoutSteady: ScenarioDef = {
  name: 'fanout',
  about: 'the same 1,000 sockets × 10 of 100 tokens at 10,000 ticks/s (1 M deliveries/s offered), tickgate as ratios to bare',
  async run(ctx) {
    const shape = fanoutShape(ctx);
    const rate = ctx.rate ?? (ctx.quick ? 2_000 : 10_000);
    const measurements: Measurement[] = [];
    await withFeed(shape.tokens, (feed, endpoint) => eachTarget(ctx, feed, endpoint, shape, async (session) => {
      await session.connect();
      feed.setRate(rate);
      await session.warmUp(ctx.warmupS);
      measurements.push(await session.measure(perSecond(rate), ctx.durationS));
    }));
    attachRatios(measurements);
    const t = measurements.find((m) => m.target === 'tickgate');
    const notes = t?.ratios ? [`tickgate delivered ${t.ratios.delivered}× bare's messages, p99 ${t.ratios.p99}× bare's, ${t.ratios.cpuPerMsg}× bare's CPU per message`] : [];
    return { name: this.name, about: this.about, measurements, summary: { rate }, notes } satisfies ScenarioReport;
  },
};
