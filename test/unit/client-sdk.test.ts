/** The SDK's pure parts: full-jitter backoff, the drain delay, and the per-token newest-value view. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { backoffDelay, drainDelay, TokenView, type Tick } from '../../src/client/index.ts';

test('backoff delays are uniform in [0, min(cap, base·2^attempt))', () => {
  fc.assert(fc.property(fc.nat(40), fc.double({ min: 0, max: 0.999999, noNaN: true }), (attempt, r) => {
    const d = backoffDelay(attempt, { baseMs: 500, capMs: 30_000 }, () => r);
    const ceiling = Math.min(30_000, 500 * 2 ** attempt);
    return d >= 0 && d < ceiling;
  }));
  assert.equal(backoffDelay(3, { baseMs: 500, capMs: 30_000 }, () => 0.999), 3_996);
  assert.equal(backoffDelay(30, { baseMs: 500, capMs: 30_000 }, () => 0.5), 15_000);
});

test('a drain delay is never shorter than reconnect_after_ms and adds at most 10 % (≤ 500 ms)', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 60_000 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (ms, r) => {
    const d = drainDelay(ms, () => r);
    return d >= ms && d <= ms + Math.min(500, ms * 0.1);
  }));
});

const tick = (token: number, seq: number, ltp: number, extra: Partial<Tick> = {}): Tick => ({ type: 'tick', token, seq, ts: 1_000, ltp, ...extra });

test('the view keeps the newest value, merges fields across modes, and tracks direction and state', () => {
  let now = 10_000;
  const v = new TokenView(3, () => now);
  v.apply(tick(1, 1, 100, { bid: 99, ask: 101, snapshot: true }));
  assert.equal(v.get(1)?.direction, 0);
  assert.equal(v.get(1)?.lagMs, undefined, 'a snapshot is not a lag measurement');
  now += 5;
  v.apply(tick(1, 2, 101, { ts: now - 3 }));
  assert.equal(v.get(1)?.direction, 1);
  assert.equal(v.get(1)?.tick.bid, 99, 'an ltp-only tick keeps the last bid');
  assert.equal(v.get(1)?.lagMs, 3);
  v.apply(tick(1, 3, 99));
  v.apply(tick(1, 4, 98));
  assert.equal(v.get(1)?.direction, -1);
  assert.deepEqual(v.get(1)?.history, [101, 99, 98], 'history is bounded');
  v.setState([1], 'paused');
  assert.equal(v.get(1)?.state, 'paused');
  v.track(2);
  assert.deepEqual(v.all().map((r) => [r.token, r.state]), [[1, 'paused'], [2, 'unknown']]);
  v.remove(2);
  assert.equal(v.get(2), undefined);
});

test('ticks per second count the last complete second', () => {
  let now = 100_000;
  const v = new TokenView(10, () => now);
  for (let i = 0; i < 7; i++) v.apply(tick(5, i + 1, 10 + i));
  assert.equal(v.get(5)?.ticksPerSec, 0, 'the current second is not complete');
  now += 1_000;
  assert.equal(v.get(5)?.ticksPerSec, 7);
  now += 1_000;
  assert.equal(v.get(5)?.ticksPerSec, 0);
});

test('the browser build of the SDK bundles with no runtime dependency (no ws, no node: modules)', async () => {
  const esbuild = await import('esbuild');
  const r = await esbuild.build({
    entryPoints: [new URL('../../src/client/index.ts', import.meta.url).pathname],
    bundle: true, write: false, platform: 'browser', format: 'esm', metafile: true, logLevel: 'silent',
  });
  const inputs = Object.keys(r.metafile.inputs);
  assert.ok(inputs.every((p) => p.startsWith('src/client/')), `bundled: ${inputs.join(', ')}`);
});
