/**
 * A feed published by a program of our own, the way a real exchange adapter would: known values
 * arrive exactly; malformed messages in between are counted and skipped; topics never collide.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSystem, startTestFeed, untilDemand } from '../helpers/system.ts';
import { until } from '../helpers/wait.ts';

const sys = await startSystem({ after });
const feed = await startTestFeed({ after }, sys.feedEndpoint);

test('known ticks arrive with exactly their values; malformed messages between them are skipped and counted', async () => {
  const T = 256265;
  const u = await sys.user();
  const c = await sys.connect(u.access);
  await c.request({ op: 'subscribe', tokens: [T], mode: 'full' });
  await untilDemand(sys, T);
  const rejectedBefore = Object.values(sys.ingester.stats.rejected).reduce((a, b) => a + b, 0);

  const depth = { buy: [{ price: 100.5, qty: 10, orders: 2 }], sell: [{ price: 101, qty: 5, orders: 1 }] };
  const known = [
    { token: T, ltp: 100.25, ts: 1_764_150_000_001, volume: 10, bid: 100.2, ask: 100.3, open: 99, high: 101, low: 98.5, close: 99.5, oi: 7, depth },
    { token: T, ltp: 100.5, ts: 1_764_150_000_002 },
    { token: T, ltp: 0.05, ts: 1_764_150_000_003, volume: 11 },
  ];
  const malformed: (string | Buffer[] | string[])[] = [
    'not json',
    JSON.stringify({ token: T }), // no ltp
    JSON.stringify({ token: T, ltp: 'NaN' }),
    JSON.stringify({ token: -1, ltp: 1 }),
    JSON.stringify({ token: 4_294_967_296, ltp: 1 }),
    JSON.stringify({ token: 1.5, ltp: 1 }),
    JSON.stringify([T, 1]),
    JSON.stringify({ token: T, ltp: 1, volume: 'lots' }),
    JSON.stringify({ token: T, ltp: 1, depth: { buy: new Array(6).fill({ price: 1, qty: 1, orders: 1 }) } }),
    JSON.stringify({ token: T, ltp: 1, pad: 'x'.repeat(70 * 1024) }), // over 64 KiB
    [String(T + 1), JSON.stringify({ token: T, ltp: 1 })], // topic and body disagree
    ['abc', JSON.stringify({ token: T, ltp: 1 })],
    ['1', '2', '3'],
  ];
  await feed.send(JSON.stringify(known[0]));
  for (const m of malformed.slice(0, 7)) await feed.send(m);
  await feed.send([String(T), JSON.stringify(known[1])]); // the two-frame form
  for (const m of malformed.slice(7)) await feed.send(m);
  await feed.send(JSON.stringify({ ...known[2], unknown_field: 'dropped' }));

  await until('three live ticks', () => c.ticks(T).filter((t) => !t.snapshot).length >= 3);
  const got = c.ticks(T).filter((t) => !t.snapshot);
  assert.equal(got.length, 3);
  assert.deepEqual(got.map((t) => t.seq), [got[0]!.seq, got[0]!.seq + 1, got[0]!.seq + 2]);
  const strip = ({ type, seq, change, ...rest }: Record<string, unknown>) => rest;
  assert.deepEqual(strip(got[0]!), known[0]);
  assert.deepEqual(strip(got[1]!), known[1]);
  assert.deepEqual(strip(got[2]!), known[2]);
  assert.equal(got[0]!.change, 0.75);
  const rejectedAfter = Object.values(sys.ingester.stats.rejected).reduce((a, b) => a + b, 0);
  assert.equal(rejectedAfter - rejectedBefore, malformed.length);
  assert.ok(sys.ingester.stats.rejected.too_large! >= 1);
  assert.ok(sys.ingester.stats.rejected.bad_json! >= 1);
});

test('a tick without ts is stamped with the ingest time', async () => {
  const T = 408065;
  const u = await sys.user();
  const c = await sys.connect(u.access);
  await c.request({ op: 'subscribe', tokens: [T], mode: 'ltp' });
  await untilDemand(sys, T);
  const before = Date.now();
  await feed.send(JSON.stringify({ token: T, ltp: 42 }));
  const tick = await c.next((m) => m.type === 'tick' && m.token === T);
  assert.ok(tick.ts >= before && tick.ts <= Date.now(), 'ts is the ingest time');
  assert.deepEqual(Object.keys(tick).sort(), ['ltp', 'seq', 'token', 'ts', 'type']);
});

test('token 12 never receives token 123 ticks (no topic prefix collision)', async () => {
  const u = await sys.user();
  const c = await sys.connect(u.access);
  await c.request({ op: 'subscribe', tokens: [12], mode: 'ltp' });
  await untilDemand(sys, 12);
  // 123, 1234 and 12 share decimal prefixes; 3084 (0x0C0C) and 12 share a leading byte.
  for (const token of [123, 1234, 121, 3084, 786_444, 12]) await feed.send(JSON.stringify({ token, ltp: token }));
  const t12 = await c.next((m) => m.type === 'tick');
  assert.equal(t12.token, 12);
  assert.equal(sys.gateways[0]!.ctx.link.ticksIn >= 1, true);
  // The worker's SUB only ever received token 12, so nothing else could reach any socket.
  assert.deepEqual(sys.gateways[0]!.ctx.link.subscribedTokens.filter((t) => t === 12 || t === 123), [12]);
  assert.deepEqual(c.ticks().map((t) => t.token), [12]);
});

test('a valid token the feed has not published yet is accepted and starts with its first tick', async () => {
  const T = 999_999;
  const u = await sys.user();
  const c = await sys.connect(u.access);
  const ack = await c.request({ op: 'subscribe', tokens: [T] });
  assert.deepEqual(ack.tokens, [T]);
  assert.deepEqual(ack.rejected, []);
  await untilDemand(sys, T);
  // The worker knows the token has no value yet (its stream read Redis) and the socket is on the
  // topic; a tick published before that would be a known value, and come as the snapshot.
  await until('the worker to know the token has no value', () => sys.gateways[0]!.ctx.link.stream(T)?.isKnown === true);
  await feed.send(JSON.stringify({ token: T, ltp: 7 }));
  const tick = await c.next((m) => m.type === 'tick');
  assert.equal(tick.seq, 1);
  assert.equal(tick.snapshot, undefined);
});
