import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { decodeClientMessage } from '../../src/protocol/client-messages.ts';
import { effectiveThrottleMs } from '../../src/protocol/throttle.ts';
import { CloseCodes } from '../../src/protocol/close-codes.ts';
import { ErrorCodes } from '../../src/protocol/error-codes.ts';
import { encodeTick, type Tick } from '../../src/protocol/tick.ts';
import { parseWsTopic, tokenOfTopic, tokenTopic, wsTopic } from '../../src/protocol/topics.ts';

const tick: Tick = {
  token: 256265, seq: 7, ts: 1, ltp: 101, volume: 5, bid: 100.9, ask: 101.1, open: 99, high: 102, low: 98, close: 100, oi: 3,
  depth: { buy: [{ price: 100.9, qty: 1, orders: 1 }], sell: [] },
};

test('tick encodings per mode are valid JSON with exactly the mode fields', () => {
  assert.deepEqual(JSON.parse(encodeTick(tick, 'ltp')), { type: 'tick', token: 256265, seq: 7, ts: 1, ltp: 101 });
  const q = JSON.parse(encodeTick(tick, 'quote'));
  assert.deepEqual(q, { type: 'tick', token: 256265, seq: 7, ts: 1, ltp: 101, volume: 5, bid: 100.9, ask: 101.1, open: 99, high: 102, low: 98, close: 100, change: 1 });
  const f = JSON.parse(encodeTick(tick, 'full', true));
  assert.deepEqual(f, { ...q, oi: 3, depth: tick.depth, snapshot: true });
});

test('quote without a close has no change; absent fields stay absent', () => {
  assert.deepEqual(JSON.parse(encodeTick({ token: 1, seq: 1, ts: 2, ltp: 3 }, 'full')), { type: 'tick', token: 1, seq: 1, ts: 2, ltp: 3 });
});

test('ZeroMQ token topics are fixed width, so no token prefixes another', () => {
  assert.equal(tokenTopic(12).length, 5);
  assert.ok(!tokenTopic(123).subarray(0, 5).equals(tokenTopic(12)));
  for (const [a, b] of [[12, 123], [1, 256], [12, 3084], [4_294_967_295, 1]] as const) {
    assert.ok(!tokenTopic(b).subarray(0, tokenTopic(a).length).equals(tokenTopic(a)), `${a} must not prefix ${b}`);
  }
  assert.equal(tokenOfTopic(tokenTopic(4_294_967_295)), 4_294_967_295);
  assert.equal(tokenOfTopic(Buffer.from('b')), undefined);
});

test('uWS topics round-trip', () => {
  assert.deepEqual(parseWsTopic(wsTopic(42, 'full')), { token: 42, mode: 'full', throttleMs: 0 });
  assert.deepEqual(parseWsTopic(wsTopic(42, 'ltp', 250)), { token: 42, mode: 'ltp', throttleMs: 250 });
  assert.equal(parseWsTopic('42/l/x'), undefined);
  assert.equal(parseWsTopic('nonsense'), undefined);
});

test('decodeClientMessage never throws and returns codes', () => {
  const inputs = ['', '{', 'null', '1', '[]', '{"op":1}', '{"op":"x"}', '{"op":"subscribe"}', '{"op":"subscribe","tokens":[1],"since":{"a":1}}',
    '{"op":"subscribe","tokens":[1],"since":{"5":-1}}', '{"op":"subscribe","tokens":[1],"epoch":5}', '{"op":"unsubscribe","tokens":{}}', '{"op":"auth","access_token":""}'];
  for (const i of inputs) {
    const d = decodeClientMessage(i);
    assert.equal(d.ok, false, i);
    assert.ok(!d.ok && d.code in ErrorCodes, i);
  }
  const throttled = decodeClientMessage('{"op":"subscribe","tokens":[1],"throttle_ms":120,"id":3}');
  assert.ok(throttled.ok && throttled.msg.op === 'subscribe');
  assert.equal(throttled.msg.throttleMs, 120);
  const tooSlow = decodeClientMessage('{"op":"subscribe","tokens":[1],"throttle_ms":60001,"id":4}');
  assert.deepEqual(tooSlow.ok ? undefined : [tooSlow.code, tooSlow.id], ['bad_request', 4]);
  const ok = decodeClientMessage('{"op":"subscribe","tokens":[1,1,2],"mode":"full","throttle_ms":0,"since":{"1":5},"epoch":"e","id":null}');
  assert.ok(ok.ok && ok.msg.op === 'subscribe');
  assert.deepEqual(ok.msg.tokens, [1, 2]);
  assert.equal(ok.msg.throttleMs, 0);
  assert.deepEqual([...ok.msg.since!], [[1, 5]]);
  assert.equal(ok.msg.id, null);
});

test('close codes are the contract values', () => {
  assert.deepEqual(Object.values(CloseCodes).map((c) => c.code), [1000, 1001, 1008, 1009, 1011, 4000, 4001, 4003, 4008, 4009]);
  for (const c of Object.values(CloseCodes)) assert.ok(Buffer.byteLength(c.reason) <= 123);
});

test('every error code and close code is documented in the README', () => {
  const readme = fs.readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  for (const code of Object.keys(ErrorCodes)) assert.ok(readme.includes(`\`${code}\``), `README lacks error code ${code}`);
  for (const { code } of Object.values(CloseCodes)) assert.ok(readme.includes(`\`${code}\``), `README lacks close code ${code}`);
});

test('throttle_ms rounds up to the next served interval; 0 stays unthrottled', () => {
  assert.deepEqual(
    [0, 1, 50, 51, 120, 200, 201, 250, 999, 1_000, 1_001, 45_000, 60_000].map(effectiveThrottleMs),
    [0, 50, 50, 100, 200, 200, 250, 250, 1_000, 1_000, 2_000, 60_000, 60_000],
  );
});
