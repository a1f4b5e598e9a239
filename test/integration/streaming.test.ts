/**
 * The whole path with the simulator: register → login → /ws → subscribe → ticks of exactly the
 * subscribed tokens, in the requested mode, with seq rising by one.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSystem, untilDemand, type System } from '../helpers/system.ts';
import { until } from '../helpers/wait.ts';
import type { Msg } from '../helpers/ws-client.ts';

const sys: System = await startSystem({ after }, { simulator: true, env: { SIM_TOKENS: '10', SIM_RATE: '1000' } });

const tokens = () => sys.simulator!.instruments.map((i) => i.token) as [number, ...number[]];

/** Live (non-snapshot) ticks of a token must have seq rising by exactly one. */
function assertSeqContiguous(ticks: Msg[]) {
  const live = ticks.filter((t) => !t.snapshot);
  for (let i = 1; i < live.length; i++) assert.equal(live[i]!.seq, live[i - 1]!.seq + 1, `seq gap at ${i}`);
}

test('a subscribed client gets the ack, then snapshots, then live ticks of exactly its tokens with contiguous seq', async () => {
  const [a, b] = tokens() as [number, number];
  const u = await sys.user();
  const c = await sys.connect(u.access);
  const ack = await c.request({ op: 'subscribe', tokens: [a, b], id: 'sub-1' });
  assert.equal(ack.type, 'subscribed');
  assert.deepEqual(ack.tokens, [a, b]);
  assert.equal(ack.mode, 'quote');
  assert.deepEqual(ack.rejected, []);
  assert.equal(ack.epoch, sys.ingester.epoch);

  await until('20 live ticks of each token', () => c.ticks(a).filter((t) => !t.snapshot).length >= 20 && c.ticks(b).filter((t) => !t.snapshot).length >= 20, 15_000);
  const ackIndex = c.inbox.indexOf(ack);
  const afterAck = c.inbox.slice(ackIndex + 1);
  // Nothing but ticks of a and b after the ack.
  assert.ok(afterAck.every((m) => m.type === 'tick' && (m.token === a || m.token === b)), 'only subscribed tokens');
  // The first message for each token is its snapshot (the simulator has published them by now).
  for (const tok of [a, b]) {
    const first = afterAck.find((m) => m.token === tok)!;
    assert.equal(first.snapshot, true, `first tick of ${tok} is a snapshot`);
    const firstLive = afterAck.find((m) => m.token === tok && !m.snapshot)!;
    assert.ok(firstLive.seq > first.seq, 'live ticks come after the snapshot');
    assertSeqContiguous(c.ticks(tok));
  }
  // Nothing before the ack but the welcome.
  assert.deepEqual(c.inbox.slice(0, ackIndex).map((m) => m.type), ['welcome']);
});

test('unsubscribe stops the ticks of that token only', async () => {
  const [a, b] = tokens().slice(2) as [number, number];
  const u = await sys.user();
  const c = await sys.connect(u.access);
  await c.request({ op: 'subscribe', tokens: [a, b] });
  await until('ticks of both', () => c.ticks(a).length > 3 && c.ticks(b).length > 3, 10_000);
  const un = await c.request({ op: 'unsubscribe', tokens: [a], id: 9 });
  assert.deepEqual(un, { type: 'unsubscribed', id: 9, tokens: [a] });
  const after = c.inbox.length;
  const countB = c.ticks(b).length;
  await until('30 more ticks of b', () => c.ticks(b).length >= countB + 30, 10_000);
  assert.equal(c.inbox.slice(after).filter((m) => m.token === a).length, 0, 'no tick of a after unsubscribed');
  const list = await c.request({ op: 'list', id: 'l' });
  assert.deepEqual(list, { type: 'subscriptions', id: 'l', tokens: { [b]: 'quote' } });
});

test('modes: ltp carries exactly token/seq/ts/ltp; quote adds quote fields; full adds oi and depth', async () => {
  const [a, b, c3] = tokens().slice(4) as [number, number, number];
  const u = await sys.user();
  const c = await sys.connect(u.access);
  await c.request({ op: 'subscribe', tokens: [a], mode: 'ltp' });
  await c.request({ op: 'subscribe', tokens: [b], mode: 'quote' });
  await c.request({ op: 'subscribe', tokens: [c3], mode: 'full' });
  const live = (tok: number) => c.next((m) => m.type === 'tick' && m.token === tok && !m.snapshot, 10_000);
  const [ltp, quote, full] = await Promise.all([live(a), live(b), live(c3)]);
  assert.deepEqual(Object.keys(ltp).sort(), ['ltp', 'seq', 'token', 'ts', 'type']);
  const quoteKeys = ['ask', 'bid', 'change', 'close', 'high', 'low', 'ltp', 'open', 'seq', 'token', 'ts', 'type', 'volume'];
  assert.deepEqual(Object.keys(quote).sort(), quoteKeys);
  assert.deepEqual(Object.keys(full).sort(), [...quoteKeys, 'depth', 'oi'].sort());
  assert.equal(full.depth.buy.length, 5);
  assert.equal(full.depth.sell.length, 5);
  assert.deepEqual(Object.keys(full.depth.buy[0]).sort(), ['orders', 'price', 'qty']);
  assert.equal(quote.change, Math.round(((quote.ltp - quote.close) / quote.close) * 10_000) / 100);
});

test('resubscribing in another mode switches the mode of that token', async () => {
  const a = tokens()[7]!;
  const u = await sys.user();
  const c = await sys.connect(u.access);
  await c.request({ op: 'subscribe', tokens: [a], mode: 'full' });
  await c.next((m) => m.type === 'tick' && m.token === a && !m.snapshot, 10_000);
  const ack = await c.request({ op: 'subscribe', tokens: [a], mode: 'ltp' });
  assert.equal(ack.mode, 'ltp');
  const after = c.inbox.length;
  await until('5 ticks after the mode change', () => c.inbox.slice(after).filter((m) => m.type === 'tick').length >= 5, 10_000);
  for (const m of c.inbox.slice(after)) assert.equal(m.depth, undefined, 'no full-mode tick after switching to ltp');
  const list = await c.request({ op: 'list' });
  assert.deepEqual(list.tokens, { [a]: 'ltp' });
  assertSeqContiguous(c.ticks(a));
});

test('a worker forwards a token only while some socket wants it', async () => {
  const a = tokens()[8]!;
  const u = await sys.user();
  const c1 = await sys.connect(u.access);
  const c2 = await sys.connect(u.access);
  await c1.request({ op: 'subscribe', tokens: [a], mode: 'ltp' });
  await c2.request({ op: 'subscribe', tokens: [a], mode: 'full' });
  await untilDemand(sys, a, true);
  await c1.request({ op: 'unsubscribe', tokens: [a] });
  assert.ok(sys.gateways[0]!.ctx.link.subscribedTokens.includes(a), 'still wanted by c2');
  c2.close();
  await c2.waitClose();
  await untilDemand(sys, a, false);
  assert.ok(!sys.gateways[0]!.ctx.link.subscribedTokens.includes(a));
});

test('a resume with since replays the missed ticks from history, then live, with no hole; another epoch is a gap', async () => {
  const a = tokens()[9]!;
  const u = await sys.user();
  const c = await sys.connect(u.access);
  await until('a few ticks of the token to exist', async () => Number((await sys.redis.xlen(`tg:hist:${a}`)) ?? 0) >= 5, 10_000);
  const ack = await c.request({ op: 'subscribe', tokens: [a], mode: 'ltp', since: { [a]: 1 }, epoch: sys.ingester.epoch });
  assert.deepEqual([ack.recovered, ack.gaps], [[a], []]);
  await until('replay and some live ticks', () => c.ticks(a).length >= 20, 10_000);
  const seqs = c.ticks(a).map((t) => t.seq);
  assert.deepEqual(seqs, seqs.map((_, i) => 2 + i), 'every seq after 1, in order, no duplicate');
  assert.equal(c.ticks(a).some((t) => t.snapshot), false);

  const other = await sys.connect(u.access);
  const stale = await other.request({ op: 'subscribe', tokens: [a], mode: 'ltp', since: { [a]: 1 }, epoch: '00000000-0000-4000-8000-000000000000' });
  assert.deepEqual([stale.recovered, stale.gaps], [[], [a]]);
  const first = await other.next((m) => m.type === 'tick', 10_000);
  assert.equal(first.snapshot, true);
});
