/**
 * Issue 8 acceptance, "no silent gap" and "recovery": a gateway whose ingest SUB has a tiny
 * high-water mark under a burst still gives every subscriber each seq, the recovered ticks, or a
 * `gap` naming exactly the missing range; a client that reconnects with `since` + `epoch` to
 * another gateway gets exactly what it missed, then live; history too short or another epoch
 * → `gaps` and a snapshot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readNewest } from '../../src/store/history.ts';
import { startCountingFeed } from '../helpers/control.ts';
import { pumpFeed } from '../helpers/ingester-process.ts';
import { continuity, seqReuse } from '../helpers/recording.ts';
import { startSystem, untilDemand, type System } from '../helpers/system.ts';
import { until } from '../helpers/wait.ts';
import type { TestClient } from '../helpers/ws-client.ts';

/** The newest seq the ingester issued for `token` (as far as Redis knows). */
async function newestSeq(sys: System, token: number): Promise<number> {
  return (await readNewest(sys.redis, [token])).get(token)?.seq ?? 0;
}

const liveSeqs = (c: TestClient, token: number, from = 0) =>
  c.inbox.slice(from).filter((m) => m.type === 'tick' && m.token === token && !m.snapshot).map((m) => m.seq as number);

test('forced drops (INGEST_HWM=1, a burst of 6,000 ticks): every subscriber gets each seq, the recovered ticks, or a gap naming exactly the loss', { timeout: 40_000 }, async (ctx) => {
  const sys = await startSystem(ctx, { env: { INGEST_HWM: '1' } });
  const feed = await startCountingFeed(ctx, sys.feedEndpoint);
  const tokens = [2001, 2002, 2003];
  const clients: TestClient[] = [];
  for (const mode of ['ltp', 'quote', 'full']) {
    const u = await sys.user();
    const c = await sys.connect(u.access);
    await c.request({ op: 'subscribe', tokens, mode });
    clients.push(c);
  }
  for (const t of tokens) await untilDemand(sys, t);
  // With a send HWM of 1 even a few ticks in a row may lose one: tick slowly until all arrived.
  const warmup = pumpFeed(feed, tokens, 20);
  try {
    await until('a first tick of every token at every client', () => clients.every((c) => tokens.every((t) => liveSeqs(c, t).length >= 1)));
  } finally {
    warmup.stop();
  }

  const link = sys.gateways[0]!.ctx.link;
  const before = { ...link.stats };
  for (let i = 0; i < 6_000; i++) await feed.tick(tokens[i % tokens.length]!);
  // No tick follows the burst: a drop at its very end is found by the worker's quiet-token check
  // (Redis has seqs the worker never got), not by a later tick.
  // Done when every client has reached the newest seq Redis knows, and that is the ingester's last.
  const final = new Map<number, number>();
  await until('Redis to hold the last seq the ingester issued', async () => {
    if (sys.ingester.history!.pending > 0) return false;
    for (const t of tokens) final.set(t, await newestSeq(sys, t));
    return tokens.reduce((n, t) => n + final.get(t)!, 0) === sys.ingester.stats.ticksOut;
  }, 10_000);
  await until('every client to reach the final seq of every token', () => clients.every((c) => tokens.every((t) => continuity(c.inbox, t).last === final.get(t))), 10_000);

  const stats = link.stats;
  const lost = stats.ticksLost - before.ticksLost;
  for (const [i, c] of clients.entries()) {
    let gapTicks = 0;
    for (const t of tokens) {
      const r = continuity(c.inbox, t);
      assert.deepEqual(r.violations, [], `client ${i}, token ${t}: no unexplained jump`);
      gapTicks += r.gaps.reduce((n, g) => n + g.to - g.from + 1, 0);
      // Every seq up to the final one is accounted for: received once, or named by a gap.
      const got = new Set(r.seqs);
      for (const g of r.gaps) for (let s = g.from; s <= g.to; s++) assert.ok(!got.has(s), `seq ${s} both received and reported lost`);
    }
    assert.equal(gapTicks, lost, `client ${i}: the gap messages name exactly the ticks the link lost`);
    assert.deepEqual(seqReuse(c.inbox), []);
  }
  const issued = tokens.reduce((n, t) => n + final.get(t)!, 0);
  ctx.diagnostic(`issued ${issued} seqs over the warm-up and the 6,000-tick burst, gateway received ${link.ticksIn}; ` +
    `stats delta: gapsDetected ${stats.gapsDetected - before.gapsDetected}, ticksRecovered ${stats.ticksRecovered - before.ticksRecovered}, ` +
    `gapMessages ${stats.gapMessages - before.gapMessages}, ticksLost ${lost}, duplicates ${stats.duplicates - before.duplicates}, heldOverflow ${stats.heldOverflow - before.heldOverflow}`);
  // Drops are found either by a jump mid-burst (gapsDetected) or, when nothing got through after
  // them (a loaded machine can make the SUB lose all but the first ticks), by the quiet-token
  // check at the end; either way each missing tick is recovered or named by a gap (above).
  assert.ok(link.ticksIn < issued, `drops happened at the gateway SUB (received ${link.ticksIn} of ${issued})`);
  assert.ok(stats.ticksRecovered - before.ticksRecovered + lost > 0, 'and were recovered or reported');
});

test('reconnect with since + epoch to the other gateway after ~300 missed ticks: recovered, exactly the missed seqs in order, then live', { timeout: 40_000 }, async (ctx) => {
  const sys = await startSystem(ctx, { gateways: 2 });
  const feed = await startCountingFeed(ctx, sys.feedEndpoint);
  const T = 3001;
  const u = await sys.user();
  const a = await sys.connect(u.access, 0);
  const ack = await a.request({ op: 'subscribe', tokens: [T], mode: 'quote' });
  await untilDemand(sys, T);
  const pump = pumpFeed(feed, [T], 5, 2); // ~400 ticks/s
  let b: TestClient;
  let bAck: Awaited<ReturnType<TestClient['request']>>;
  let lastSeen: number;
  let newestAtResume: number;
  try {
    await until('50 ticks on gateway 0', () => liveSeqs(a, T).length >= 50, 10_000);
    a.close();
    await a.waitClose();
    lastSeen = continuity(a.inbox, T).last!;
    await until('about 300 ticks issued while away', async () => (await newestSeq(sys, T)) >= lastSeen + 300, 10_000);
    b = await sys.connect(u.access, 1);
    newestAtResume = await newestSeq(sys, T);
    bAck = await b.request({ op: 'subscribe', tokens: [T], mode: 'quote', since: { [T]: lastSeen }, epoch: ack.epoch });
    await until('200 ticks beyond the resume point on gateway 1', () => (continuity(b.inbox, T).last ?? 0) >= newestAtResume + 200, 10_000);
  } finally {
    pump.stop();
  }
  assert.equal(bAck.epoch, ack.epoch);
  assert.deepEqual(bAck.recovered, [T]);
  assert.deepEqual(bAck.gaps, []);
  await until('the final seq on gateway 1', async () => continuity(b.inbox, T).last === (await newestSeq(sys, T)), 5_000);
  const seqs = b.ticks(T).map((m) => m.seq as number);
  assert.equal(b.ticks(T).filter((m) => m.snapshot).length, 0, 'a recovered token gets no snapshot');
  assert.equal(seqs[0], lastSeen + 1, 'the replay starts right after the last seq seen');
  assert.deepEqual(seqs, seqs.map((_, i) => lastSeen + 1 + i), 'every seq once, in order: no duplicate, no hole');
  assert.deepEqual(continuity(b.inbox, T).gaps, []);
  ctx.diagnostic(`missed ${newestAtResume - lastSeen} ticks (seq ${lastSeen + 1}..${newestAtResume} at the resume); gateway 1 delivered ${seqs.length} ticks, ${lastSeen + 1}..${seqs.at(-1)}`);

  // Another (or an unknown) epoch: the numbering named by `since` is void, every token is a gap.
  await feed.tick(3002);
  await until('3002 known in Redis', async () => (await newestSeq(sys, 3002)) > 0);
  const c = await sys.connect(u.access, 1);
  for (const epoch of [randomUUID(), undefined]) {
    const r = await c.request({ op: 'subscribe', tokens: [T, 3002], mode: 'ltp', since: { [T]: 5, 3002: 1 }, ...(epoch ? { epoch } : {}) });
    assert.deepEqual(r.recovered, [], `epoch ${epoch}`);
    assert.deepEqual([...r.gaps].sort(), [3002, T].sort(), `epoch ${epoch}`);
    if (epoch) {
      await until('a snapshot of both tokens', () => [T, 3002].every((t) => c.ticks(t).some((m) => m.snapshot)));
      await c.request({ op: 'unsubscribe', tokens: [T, 3002] });
    }
  }
});

test('a gap larger than the history (HISTORY_SIZE=50, ~300 missed): the token is in gaps, a snapshot follows, then live without a hole', { timeout: 40_000 }, async (ctx) => {
  const sys = await startSystem(ctx, { env: { HISTORY_SIZE: '50' } });
  const feed = await startCountingFeed(ctx, sys.feedEndpoint);
  const T = 4001;
  const u = await sys.user();
  const a = await sys.connect(u.access);
  const ack = await a.request({ op: 'subscribe', tokens: [T] });
  await untilDemand(sys, T);
  const pump = pumpFeed(feed, [T], 5, 2);
  let b: TestClient;
  let r: Awaited<ReturnType<TestClient['request']>>;
  let subscribedAt: number;
  try {
    await until('20 ticks', () => liveSeqs(a, T).length >= 20, 10_000);
    a.close();
    await a.waitClose();
    const lastSeen = continuity(a.inbox, T).last!;
    await until('about 300 ticks issued while away', async () => (await newestSeq(sys, T)) >= lastSeen + 300, 10_000);
    b = await sys.connect(u.access);
    subscribedAt = b.inbox.length;
    r = await b.request({ op: 'subscribe', tokens: [T], since: { [T]: lastSeen }, epoch: ack.epoch });
    await until('20 live ticks after the snapshot', () => liveSeqs(b, T).length >= 20, 10_000);
  } finally {
    pump.stop();
  }
  assert.deepEqual(r.recovered, []);
  assert.deepEqual(r.gaps, [T]);
  const first = b.inbox.slice(subscribedAt).find((m) => m.type === 'tick' && m.token === T)!;
  assert.equal(first.snapshot, true, 'a snapshot stands in for the lost ticks');
  const cont = continuity(b.inbox, T);
  assert.deepEqual(cont.violations, []);
  assert.equal(cont.seqs[0], first.seq + 1, 'live continues right after the snapshot');
  ctx.diagnostic(`snapshot seq ${first.seq}, then ${cont.seqs.length} live ticks without a hole`);
});
