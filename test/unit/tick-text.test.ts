import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { changePercent, depthJson, encodeTick, encodeTickModes, MODES, tickPrefix, tickText, type Mode, type Tick } from '../../src/protocol/tick.ts';

/** The tick JSON as §6 defines it, built the slow and obvious way: an object in key order, stringified. */
function reference(t: Tick, mode: Mode, snapshot: boolean): string {
  const o: Record<string, unknown> = { type: 'tick', token: t.token, seq: t.seq, ts: t.ts, ltp: t.ltp };
  if (mode !== 'ltp') {
    for (const f of ['volume', 'bid', 'ask', 'open', 'high', 'low', 'close'] as const) if (t[f] !== undefined) o[f] = t[f];
    const change = changePercent(t.ltp, t.close);
    if (change !== undefined) o.change = change;
    if (mode === 'full') {
      if (t.oi !== undefined) o.oi = t.oi;
      if (t.depth !== undefined) o.depth = t.depth;
    }
  }
  if (snapshot) o.snapshot = true;
  return JSON.stringify(o);
}

const num = fc.double({ noNaN: true, noDefaultInfinity: true });
const level = fc.record({ price: num, qty: fc.nat(), orders: fc.nat() });
const depth = fc.record({ buy: fc.array(level, { maxLength: 5 }), sell: fc.array(level, { maxLength: 5 }) });
const tick = fc.record({
  token: fc.integer({ min: 1, max: 4_294_967_295 }), seq: fc.integer({ min: 1, max: 2 ** 40 }), ts: fc.integer({ min: 0, max: 2e12 }), ltp: num,
  volume: fc.option(fc.nat(), { nil: undefined }), bid: fc.option(num, { nil: undefined }), ask: fc.option(num, { nil: undefined }),
  open: fc.option(num, { nil: undefined }), high: fc.option(num, { nil: undefined }), low: fc.option(num, { nil: undefined }),
  close: fc.option(num, { nil: undefined }), oi: fc.option(fc.nat(), { nil: undefined }), depth: fc.option(depth, { nil: undefined }),
}, { requiredKeys: ['token', 'seq', 'ts', 'ltp'] });

test('the three encodings built from shared pieces are byte-identical to the obvious JSON, in every mode', () => {
  fc.assert(fc.property(tick, fc.boolean(), (t, snapshot) => {
    const modes = encodeTickModes(tickPrefix(t.token), t.seq, tickText(t), snapshot);
    MODES.forEach((m, i) => {
      const want = reference(t, m, snapshot);
      assert.equal(modes[i], want);
      assert.equal(encodeTick(t, m, snapshot), want);
      JSON.parse(want); // valid JSON, whatever the numbers
    });
  }), { numRuns: 2_000 });
});

test('an unchanged depth reuses its JSON; any changed number serialises it again', () => {
  fc.assert(fc.property(depth, fc.nat(), (d, k) => {
    const first = depthJson(d, undefined);
    assert.equal(first.json, JSON.stringify(d));
    const copy = structuredClone(d);
    assert.equal(depthJson(copy, first), first, 'equal levels: the same JSON object back');
    const levels = [...copy.buy, ...copy.sell];
    if (levels.length === 0) return;
    levels[k % levels.length]!.qty += 1;
    const changed = depthJson(copy, first);
    assert.notEqual(changed, first);
    assert.equal(changed.json, JSON.stringify(copy));
  }));
  const d = { buy: [{ price: 1, qty: 1, orders: 1 }], sell: [] };
  assert.notEqual(depthJson({ buy: [], sell: d.buy }, depthJson(d, undefined)).json, JSON.stringify(d), 'a level moved between sides');
});

test('the change field never overflows to Infinity, which is not JSON', () => {
  assert.equal(changePercent(-1e308, 1e308), undefined);
  assert.equal(changePercent(1e308, 1e-300), undefined);
  assert.equal(changePercent(110, 100), 10);
  assert.equal(changePercent(1, 0), undefined);
});
