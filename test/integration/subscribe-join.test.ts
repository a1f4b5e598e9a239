/**
 * The subscribe join (issue 13, §6): after `subscribed` a client gets the snapshot with seq s, then
 * live ticks s+1, s+2, … — or a `gap` naming exactly the ticks between. Measured against an
 * external publisher ticking one token at 100/s, on both paths a join can take: the token new to
 * the worker (cold) and already forwarded for another socket (hot); also a mode change and a paused
 * token's resume.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Keys } from '../../src/store/keys.ts';
import { controlClient } from '../helpers/control.ts';
import { startSystem, startTestFeed, untilDemand } from '../helpers/system.ts';
import { until } from '../helpers/wait.ts';
import type { Msg, TestClient } from '../helpers/ws-client.ts';

const sys = await startSystem({ after });
const feed = await startTestFeed({ after }, sys.feedEndpoint);
const ctl = controlClient({ after }, sys.config.controlBind);
const gw = sys.gateways[0]!;
// Registered before any socket opens: the bundled uWS can drop a socket upgraded right after an
// HTTP request (see control.test.ts), and one user holds at most 20 sockets.
const users = await Promise.all(Array.from({ length: 6 }, () => sys.user()));
let userTurn = 0;
const nextUser = () => users[userTurn++ % users.length]!;

const JOINS = 50;
const LIVE_TICKS = 3;
const depth = { buy: [{ price: 100, qty: 1, orders: 1 }], sell: [{ price: 101, qty: 1, orders: 1 }] };

/**
 * Ticks `token` at `perSecond` from the test's own publisher until stopped (the ingester stamps
 * `ts`, so a snapshot's age is measured from ingest). `oi` and `depth` tell `full` from `quote`.
 */
function ticker(token: number, perSecond: number) {
  let running = true;
  let n = 0;
  const every = 1_000 / perSecond;
  const done = (async () => {
    const start = Date.now();
    while (running) {
      await feed.send(JSON.stringify({ token, ltp: 1_000 + ++n / 100, volume: n, oi: n, depth }));
      const due = start + n * every;
      await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
    }
  })();
  return { stop: async () => { running = false; await done; }, get sent() { return n; } };
}

/** A token's newest value is in Redis (its first ticks were published), so a subscribe has a snapshot. */
const untilPersisted = (token: number) =>
  until(`a tick of ${token} in Redis`, async () => (await sys.redis.hget(Keys.lastTicks, String(token))) !== null, 5_000);

/** Receipt times of a client's messages, aligned with its inbox. */
function receiptTimes(c: TestClient): (m: Msg) => number {
  const offset = c.inbox.length;
  const at: number[] = [];
  c.ws.on('message', () => at.push(Date.now()));
  return (m) => at[c.inbox.indexOf(m) - offset]!;
}

const isOf = (token: number) => (m: Msg) => (m.type === 'tick' || m.type === 'gap') && m.token === token;

/**
 * Checks the messages of `token` from `from` on: a snapshot with seq s first, then live ticks whose
 * seq rises by one, where every jump is announced by a `gap` naming exactly the missing range.
 * Returns the snapshot and whether a gap came between it and the first live tick.
 */
function checkJoin(msgs: Msg[], token: number, mode?: 'quote' | 'full') {
  const ours = msgs.filter(isOf(token));
  const snap = ours[0];
  assert.ok(snap && snap.type === 'tick' && snap.snapshot === true, `the first message is the snapshot: ${JSON.stringify(snap)}`);
  let expected = snap.seq + 1;
  let gapAtJoin = false;
  let live = 0;
  for (const m of ours.slice(1)) {
    if (m.type === 'gap') {
      assert.equal(m.from, expected, `gap starts right after seq ${expected - 1}: ${JSON.stringify(m)}`);
      assert.ok(m.to >= m.from, `gap names a range: ${JSON.stringify(m)}`);
      if (live === 0) gapAtJoin = true;
      expected = m.to + 1;
      continue;
    }
    assert.equal(m.snapshot, undefined, `no second snapshot: ${JSON.stringify(m)}`);
    assert.equal(m.seq, expected, `live tick ${live} after snapshot ${snap.seq}: seq ${m.seq}, expected ${expected}`);
    if (mode) assert.equal('oi' in m, mode === 'full', `tick in ${mode} mode`);
    expected++;
    live++;
  }
  return { snap, gapAtJoin, live };
}

const quantiles = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { min: s[0], p50: q(0.5), p90: q(0.9), max: s.at(-1) };
};

/** One subscribe on a fresh socket: records the join, then closes the socket. */
async function joinOnce(token: number) {
  const c = await sys.connect(nextUser().access);
  const at = receiptTimes(c);
  const ack = await c.request({ op: 'subscribe', tokens: [token], mode: 'quote' });
  assert.equal(ack.type, 'subscribed');
  await until(`${LIVE_TICKS} live ticks after the join`, () => c.ticks(token).filter((m) => !m.snapshot).length >= LIVE_TICKS, 5_000, 5);
  const msgs = c.inbox.slice(c.inbox.indexOf(ack) + 1);
  const { snap, gapAtJoin } = checkJoin(msgs, token, 'quote');
  const age = at(snap) - snap.ts;
  c.close();
  await c.waitClose();
  return { gapAtJoin, age };
}

async function joins(token: number, before: () => Promise<void>) {
  let exact = 0;
  let gaps = 0;
  const ages: number[] = [];
  for (let i = 0; i < JOINS; i++) {
    await before();
    const r = await joinOnce(token);
    if (r.gapAtJoin) gaps++;
    else exact++;
    ages.push(r.age);
  }
  return { exact, gaps, ages };
}

for (const [T, rate] of [[310_001, 100], [310_005, 1_000]] as const) {
  test(`cold path: ${JOINS} subscribes to a token ticking ${rate}/s, each new to the worker, join exactly or with a gap naming the range`, { timeout: 60_000 }, async () => {
    const feedT = ticker(T, rate);
    after(() => feedT.stop());
    await untilPersisted(T);
    const statsBefore = { ...gw.ctx.link.stats };
    const r = await joins(T, async () => {
      // Cold again: the last socket's interest is gone from the worker and from the ingester.
      await until('the worker to stop forwarding the token', () => gw.ctx.link.stream(T) === undefined);
      await untilDemand(sys, T, false);
    });
    await feedT.stop();
    console.log(`cold path, ${rate}/s: ${r.exact} exact joins, ${r.gaps} with a gap; snapshot age ms ${JSON.stringify(quantiles(r.ages))}; worker filled ${gw.ctx.link.stats.ticksRecovered - statsBefore.ticksRecovered} ticks from history, sent ${gw.ctx.link.stats.gapMessages - statsBefore.gapMessages} gap messages`);
    assert.equal(r.exact + r.gaps, JOINS);
  });
}

test(`hot path: ${JOINS} subscribes to a token ticking 100/s while another socket on the worker keeps the token flowing`, { timeout: 60_000 }, async () => {
  const T = 310_002;
  const feedT = ticker(T, 100);
  after(() => feedT.stop());
  await untilPersisted(T);
  const keeper = await sys.connect(nextUser().access);
  const keeperAck = await keeper.request({ op: 'subscribe', tokens: [T], mode: 'quote' });
  await until('the keeper to be live', () => keeper.ticks(T).some((m) => !m.snapshot), 5_000);
  const r = await joins(T, async () => {
    const s = gw.ctx.link.stream(T);
    assert.ok(s?.isKnown, 'the worker forwards the token throughout');
  });
  await feedT.stop();
  console.log(`hot path, 100/s: ${r.exact} exact joins, ${r.gaps} with a gap; snapshot age ms ${JSON.stringify(quantiles(r.ages))}`);
  assert.equal(r.exact + r.gaps, JOINS);
  // The keeper itself never missed a tick without being told.
  checkJoin(keeper.inbox.slice(keeper.inbox.indexOf(keeperAck) + 1), T, 'quote');
});

test('a mode change (quote → full) on a ticking token: the new mode\'s snapshot s, then live s+1 in the new mode, no hole, no duplicate', async () => {
  const T = 310_003;
  const feedT = ticker(T, 100);
  after(() => feedT.stop());
  await untilPersisted(T);
  const c = await sys.connect(nextUser().access);
  const ack1 = await c.request({ op: 'subscribe', tokens: [T], mode: 'quote' });
  await until('a few quote ticks', () => c.ticks(T).filter((m) => !m.snapshot).length >= 5, 5_000);
  const ack2 = await c.request({ op: 'subscribe', tokens: [T], mode: 'full' });
  assert.equal(ack2.mode, 'full');
  const i2 = c.inbox.indexOf(ack2);
  await until('live full ticks', () => c.inbox.slice(i2).filter((m) => m.type === 'tick' && !m.snapshot).length >= 5, 5_000);
  await feedT.stop();

  const before = c.inbox.slice(c.inbox.indexOf(ack1) + 1, i2);
  checkJoin(before, T, 'quote');
  const lastQuote = before.filter((m) => m.type === 'tick').at(-1)!;
  const afterChange = c.inbox.slice(i2 + 1);
  const { snap } = checkJoin(afterChange, T, 'full');
  assert.ok('oi' in snap, 'the snapshot is in the new mode');
  // The snapshot is the value the quote stream last carried, re-sent in full: nothing skipped, and
  // the next live tick (already checked to be s+1) is the first one not seen in either mode.
  assert.equal(snap.seq, lastQuote.seq, 'the snapshot is the newest value the old mode carried');
});

test('a paused token: ack, snapshot, status paused; on resume status live, the resume snapshot (next seq), then consecutive live ticks', async () => {
  const P = 310_004;
  const feedP = ticker(P, 100);
  after(() => feedP.stop());
  await untilPersisted(P); // so the paused subscribe has a snapshot to send
  assert.deepEqual(await ctl.send({ cmd: 'pause', tokens: [P] }), { ok: true, paused: [P] });
  const c = await sys.connect(nextUser().access);
  const ack = await c.request({ op: 'subscribe', tokens: [P], mode: 'quote' });
  const st = await c.next((m) => m.type === 'status', 5_000, 'status paused');
  const i = c.inbox.indexOf(ack);
  const [snap, paused] = c.inbox.slice(i + 1, i + 3);
  assert.equal(snap?.type, 'tick');
  assert.equal(snap?.snapshot, true);
  assert.deepEqual(paused, { type: 'status', tokens: [P], state: 'paused' });
  assert.equal(st, paused);

  assert.deepEqual(await ctl.send({ cmd: 'resume', tokens: [P] }), { ok: true, paused: [] });
  const live = await c.next((m) => m.type === 'status' && m.state === 'live', 2_000, 'status live');
  await until('live ticks after the resume', () => c.inbox.slice(c.inbox.indexOf(live)).filter((m) => m.type === 'tick' && !m.snapshot).length >= 5, 5_000);
  await feedP.stop();
  const afterResume = c.inbox.slice(c.inbox.indexOf(live) + 1);
  assert.deepEqual(c.inbox.slice(i + 3, c.inbox.indexOf(live)).filter(isOf(P)), [], 'nothing of P while paused');
  const { snap: resumed } = checkJoin(afterResume, P, 'quote');
  // The value held during the pause with the next seq, or (nothing arrived meanwhile) the paused
  // snapshot's tick re-sent as it was.
  assert.ok(resumed.seq === snap!.seq + 1 || (resumed.seq === snap!.seq && resumed.ltp === snap!.ltp), `resume snapshot ${resumed.seq} after ${snap!.seq}`);
});
