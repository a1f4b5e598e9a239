import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_FEED_MESSAGE_BYTES, parseFeedMessage } from '../../src/ingester/feed-message.ts';

const NOW = 1_764_150_000_000;
/** The result without its source text. */
const plain = (r: ReturnType<typeof parseFeedMessage>) => (r.ok ? { ok: true, tick: r.tick } : r);
const one = (o: unknown) => plain(parseFeedMessage([Buffer.from(typeof o === 'string' ? o : JSON.stringify(o))], NOW));
const two = (t: string, o: unknown) => plain(parseFeedMessage([Buffer.from(t), Buffer.from(JSON.stringify(o))], NOW));

test('accepts the one-frame and two-frame forms', () => {
  assert.deepEqual(one({ token: 5, ltp: 1.5, ts: 10 }), { ok: true, tick: { token: 5, ltp: 1.5, ts: 10 } });
  assert.deepEqual(two('5', { token: 5, ltp: 1.5, ts: 10 }), { ok: true, tick: { token: 5, ltp: 1.5, ts: 10 } });
  assert.deepEqual(two('5', { ltp: 2 }), { ok: true, tick: { token: 5, ltp: 2, ts: NOW } }, 'token from the topic frame');
});

test('stamps the ingest time when ts is absent, and drops unknown fields', () => {
  const r = one({ token: 1, ltp: 3, foo: 'bar', __proto__: { x: 1 } });
  assert.deepEqual(r, { ok: true, tick: { token: 1, ltp: 3, ts: NOW } });
});

test('keeps known optional fields and depth', () => {
  const depth = { buy: [{ price: 1, qty: 2, orders: 3 }], sell: [] };
  const r = one({ token: 1, ltp: 3, volume: 4, bid: 2.9, ask: 3.1, open: 3, high: 3.2, low: 2.8, close: 3, oi: 9, depth });
  assert.ok(r.ok);
  assert.deepEqual(r.tick, { token: 1, ltp: 3, ts: NOW, volume: 4, bid: 2.9, ask: 3.1, open: 3, high: 3.2, low: 2.8, close: 3, oi: 9, depth });
});

test('rejects everything off-contract with a reason', () => {
  const cases: [ReturnType<typeof one>, string][] = [
    [one('nope'), 'bad_json'],
    [one('[1]'), 'not_object'],
    [one('null'), 'not_object'],
    [one({ ltp: 1 }), 'bad_token'],
    [one({ token: 0, ltp: 1 }), 'bad_token'],
    [one({ token: 4_294_967_296, ltp: 1 }), 'bad_token'],
    [one({ token: '5', ltp: 1 }), 'bad_token'],
    [one({ token: 5 }), 'bad_ltp'],
    [one({ token: 5, ltp: '1' }), 'bad_ltp'],
    [one({ token: 5, ltp: 1, ts: 'now' }), 'bad_ts'],
    [one({ token: 5, ltp: 1, ts: -1 }), 'bad_ts'],
    [one({ token: 5, ltp: 1, volume: null }), 'bad_field'],
    [one({ token: 5, ltp: 1, depth: 'deep' }), 'bad_depth'],
    [one({ token: 5, ltp: 1, depth: { buy: [{ price: 1, qty: 1 }] } }), 'bad_depth'],
    [one({ token: 5, ltp: 1, depth: { sell: new Array(6).fill({ price: 1, qty: 1, orders: 1 }) } }), 'bad_depth'],
    [two('6', { token: 5, ltp: 1 }), 'token_mismatch'],
    [two('x', { token: 5, ltp: 1 }), 'bad_token'],
    [plain(parseFeedMessage([Buffer.from('1'), Buffer.from('2'), Buffer.from('3')], NOW)), 'bad_frames'],
    [one(JSON.stringify({ token: 5, ltp: 1, pad: 'x'.repeat(MAX_FEED_MESSAGE_BYTES) })), 'too_large'],
  ];
  for (const [r, reason] of cases) assert.deepEqual(r, { ok: false, reason });
});

test('NaN and Infinity cannot arrive through JSON, and non-finite numbers are refused', () => {
  assert.deepEqual(one('{"token":5,"ltp":NaN}'), { ok: false, reason: 'bad_json' });
  assert.deepEqual(one('{"token":5,"ltp":1e999}'), { ok: false, reason: 'bad_ltp' });
});
