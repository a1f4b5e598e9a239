/**
 * The pure parts of the bench and the soak: merging client processes' latency histograms, the
 * ramp's knee, tickgate-to-baseline ratios, reading /metrics text, and the soak's drift.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LatencyHistogram } from '../../src/bench/latency-histogram.ts';
import { metricValue } from '../../src/bench/metrics-text.ts';
import { rampContinues, rampKnee, stepPasses } from '../../src/bench/ramp.ts';
import { attachRatios, type Measurement } from '../../src/bench/report.ts';
import { drift, slope } from '../../src/bench/soak-stats.ts';

function histogramOf(values: number[]): LatencyHistogram {
  const h = new LatencyHistogram();
  for (const v of values) h.record(v);
  return h;
}

test('merged histograms give the same percentiles as one histogram of every sample', () => {
  const a = [1, 2, 2, 3, 50, 7];
  const b = [0, 4, 4, 4, 120, 9, 9, 1];
  const merged = LatencyHistogram.fromSnapshots([histogramOf(a).snapshot(), histogramOf(b).snapshot()]);
  assert.deepEqual(merged.summary(), histogramOf([...a, ...b]).summary());
});

test('a histogram snapshot survives JSON and merging an empty one changes nothing', () => {
  const h = histogramOf([5, 5, 6, 200]);
  const copy = LatencyHistogram.fromSnapshots([JSON.parse(JSON.stringify(h.snapshot())), new LatencyHistogram().snapshot()]);
  assert.deepEqual(copy.summary(), h.summary());
  assert.deepEqual(copy.summary(), { samples: 4, p50: 5, p99: 200, max: 200, mean: 54 });
});

test('the ramp knee is the last passing rate before the first failing step', () => {
  const steps = [
    { rate: 2_000, p99Ms: 20, deliveryRatio: 1 },
    { rate: 5_000, p99Ms: 90, deliveryRatio: 0.995 },
    { rate: 10_000, p99Ms: 250, deliveryRatio: 1 },
  ];
  assert.deepEqual(rampKnee(steps), { knee: 5_000, failedAt: 10_000, reason: 'p99 250 ms > 100 ms' });
  assert.equal(rampContinues(steps), false);
  assert.equal(rampContinues(steps.slice(0, 2)), true);
});

test('a step fails on delivery below 99% even with a low p99', () => {
  assert.equal(stepPasses({ rate: 1, p99Ms: 5, deliveryRatio: 0.98 }), false);
  assert.deepEqual(rampKnee([{ rate: 1_000, p99Ms: 5, deliveryRatio: 0.9 }]), { knee: null, failedAt: 1_000, reason: 'delivered 90.0% < 99%' });
  assert.deepEqual(rampKnee([{ rate: 1_000, p99Ms: 100, deliveryRatio: 0.99 }]), { knee: 1_000, failedAt: null, reason: null });
  assert.equal(rampContinues([]), true);
});

function measurement(target: 'bare' | 'tickgate', label: string, delivered: number, p99: number, cpu: number | null): Measurement {
  return {
    target, label, connections: 1, tokens: 1, tokensPerConnection: 1, mode: 'ltp', windowS: 1, offeredTicksPerSec: 1,
    publishedTicksPerSec: 1, deliveredMsgsPerSec: delivered, deliveryRatio: 1, latencyMs: { samples: 1, p50: 1, p99, max: p99, mean: 1 },
    serverCpuS: {}, serverCores: 0, busiestServerCores: 0, serverCpuSecPerMillionMsgs: cpu, serverRssKiB: 1, rssPerConnectionKiB: null,
    clientCores: [0], feedCores: 0, clientBusierThanServer: false, closes: {}, serverLogLines: 0,
  };
}

test('tickgate rows get ratios to the bare row of the same step, and only those', () => {
  const ms = [
    measurement('bare', '5,000/s', 500_000, 20, 2),
    measurement('tickgate', '5,000/s', 400_000, 50, 5),
    measurement('tickgate', '10,000/s', 500_000, 300, 4),
    measurement('bare', '0/s', 0, 0, null),
    measurement('tickgate', '0/s', 0, 3, null),
  ];
  attachRatios(ms);
  assert.deepEqual(ms[1]!.ratios, { delivered: 0.8, p99: 2.5, cpuPerMsg: 2.5 });
  assert.equal(ms[0]!.ratios, undefined);
  assert.equal(ms[2]!.ratios, undefined);
  // A bare p99 of 0 ms counts as 1 ms (the resolution), and nothing delivered gives no ratio.
  assert.deepEqual(ms[4]!.ratios, { delivered: null, p99: 3, cpuPerMsg: null });
});

test('metricValue sums the samples of a metric that carry the asked labels', () => {
  const text = [
    '# HELP tickgate_closes_total closes',
    '# TYPE tickgate_closes_total counter',
    'tickgate_closes_total{code="4009"} 3',
    'tickgate_closes_total{code="1001"} 7',
    'tickgate_closes_total_other 99',
    'tickgate_sockets 12',
    'tickgate_event_loop_lag_seconds{role="gateway"} 0.012',
    'tickgate_event_loop_lag_seconds{role="ingester"} 0.5',
  ].join('\n');
  assert.equal(metricValue(text, 'tickgate_closes_total', { code: '4009' }), 3);
  assert.equal(metricValue(text, 'tickgate_closes_total'), 10);
  assert.equal(metricValue(text, 'tickgate_sockets'), 12);
  assert.equal(metricValue(text, 'tickgate_event_loop_lag_seconds', { role: 'gateway' }), 0.012);
  assert.equal(metricValue(text, 'tickgate_missing'), undefined);
});

test('drift leaves out the warm-up and measures a steady rise against the mean', () => {
  // 0..100 s, one sample a second: a spike during warm-up, then 1,000 rising 1 per second.
  const points = Array.from({ length: 101 }, (_, t) => ({ t, v: t < 20 ? 5_000 : 1_000 + (t - 20) }));
  const d = drift(points, 100);
  assert.equal(d.samples, 81);
  assert.equal(d.spanS, 80);
  assert.equal(d.mean, 1_040);
  assert.equal(d.perMinute, 60);
  assert.equal(d.fitPct, Math.round((80 / 1_040) * 10_000) / 100);
  // First 16 samples average 1,007.5, last 16 average 1,072.5.
  assert.equal(d.windowPct, Math.round((1_072.5 / 1_007.5 - 1) * 10_000) / 100);
});

test('a flat series has no drift, and an all-zero one has no percentage', () => {
  const flat = drift(Array.from({ length: 50 }, (_, t) => ({ t, v: 42 })), 50);
  assert.equal(flat.fitPct, 0);
  assert.equal(flat.windowPct, 0);
  const zero = drift(Array.from({ length: 10 }, (_, t) => ({ t, v: 0 })), 10);
  assert.equal(zero.fitPct, null);
  assert.equal(zero.windowPct, null);
  assert.equal(slope([{ t: 1, v: 3 }]), 0);
});

test('metricByLabel splits a metric by one label', async () => {
  const { metricByLabel } = await import('../../src/bench/metrics-text.ts');
  const text = 'tickgate_closes_total{code="4009"} 3\ntickgate_closes_total{worker="a",code="4000"} 2\ntickgate_closes_total{code="4000"} 1\ntickgate_sockets 4\n';
  assert.deepEqual(metricByLabel(text, 'tickgate_closes_total', 'code'), { 4009: 3, 4000: 3 });
});
