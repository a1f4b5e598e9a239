/**
 * Conflation (§6, issue 8): a socket that stops reading while ~1,000 ticks/s flow is told
 * `status conflating` and taken off its topics, so the server holds a bounded amount for it; when
 * it reads again it gets, after its backlog, the newest value of every token, then `status live`,
 * then live ticks continuing from those values. A neighbour that reads sees every tick. A socket
 * that never reads is closed 4009 after SLOW_CLOSE_MS conflating.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { SLOW_THRESHOLD_BYTES } from '../../src/gateway/ws-route.ts';
import type { Socket } from '../../src/gateway/socket-model.ts';
import { startSystem, startTestFeed, untilDemand } from '../helpers/system.ts';
import { until } from '../helpers/wait.ts';
import type { Msg, TestClient } from '../helpers/ws-client.ts';

const SLOW_CLOSE_MS = 3_000;
const sys = await startSystem({ after }, { env: { SLOW_CLOSE_MS: String(SLOW_CLOSE_MS) } });
const feed = await startTestFeed({ after }, sys.feedEndpoint);
const gw = sys.gateways[0]!;
const users = await Promise.all([sys.user(), sys.user(), sys.user()]);

/** The gateway samples send buffers this often (ws-route.ts); the bound below allows one period. */
const SAMPLE_MS = Math.min(1_000, Math.max(50, Math.floor(SLOW_CLOSE_MS / 4)));
const level = { price: 24_311.5, qty: 1_250, orders: 17 };
const depth = { buy: Array(5).fill(level), sell: Array(5).fill(level) };

type Paused = { _socket: { pause(): void; resume(): void } };
const pause = (c: TestClient) => (c.ws as unknown as Paused)._socket.pause();
const resume = (c: TestClient) => (c.ws as unknown as Paused)._socket.resume();

const socketOf = (c: TestClient): Socket | undefined => {
  const connId = c.inbox[0]!.conn_id as string;
  return [...gw.registry.all()].find((ws) => ws.getUserData().connId === connId && !ws.getUserData().closed);
};
const conflating = (ws: Socket | undefined) => ws?.getUserData().actor?.getSnapshot().matches({ open: { flow: 'conflating' } }) === true;

/**
 * `perSecond` ticks spread over `tokens`, with full depth (~700 bytes a tick in `full` mode),
 * paced by the clock in batches every 10 ms. Each token's ltp counts its own ticks.
 */
function ticker(tokens: number[], perSecond: number, from?: ReadonlyMap<number, number>) {
  let running = true;
  /** Per token, the count (and ltp) of its last tick sent, continuing from `from`. */
  const sent = new Map(tokens.map((t) => [t, from?.get(t) ?? 0]));
  const done = (async () => {
    const start = Date.now();
    let n = 0;
    while (running) {
      const due = Math.floor(((Date.now() - start) * perSecond) / 1_000);
      for (; n < due && running; n++) {
        const token = tokens[n % tokens.length]!;
        const k = sent.get(token)! + 1;
        sent.set(token, k);
        await feed.send(JSON.stringify({ token, ltp: k, volume: k, oi: k, depth }));
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    sent,
    async stop() {
      running = false;
      await done;
    },
  };
}

/** Waits for the live tick of `token` with value `ltp`, wherever it is in the inbox. */
const tickWith = (c: TestClient, token: number, ltp: number) =>
  until(`the tick ${ltp} of ${token}`, () => c.ticks(token).find((m) => m.ltp === ltp && !m.snapshot), 5_000);

/** Live ticks of one token: seq rises by one, or jumps only right after a `gap` naming the range. */
function assertContinuous(msgs: Msg[], token: number, what: string) {
  let expected: number | undefined;
  for (const m of msgs) {
    if (m.token !== token) continue;
    if (m.type === 'gap') {
      assert.equal(m.from, expected, `${what}: gap from the next seq`);
      expected = m.to + 1;
    } else if (m.type === 'tick' && !m.snapshot) {
      if (expected !== undefined) assert.equal(m.seq, expected, `${what}: token ${token} seq ${m.seq} after ${expected - 1}`);
      expected = m.seq + 1;
    }
  }
}

test('a socket that stops reading is conflated with a bounded buffer, then catches up: backlog, newest values, status live, live ticks without a hole; its reading neighbour misses nothing', { timeout: 60_000 }, async () => {
  const tokens = [330_001, 330_002, 330_003, 330_004, 330_005];
  const slow = await sys.connect(users[0]!.access);
  const healthy = await sys.connect(users[1]!.access);
  for (const c of [slow, healthy]) await c.request({ op: 'subscribe', tokens, mode: 'full' });
  for (const t of tokens) await untilDemand(sys, t);
  const closedBefore = gw.registry.closedWith[4009] ?? 0;

  const run = ticker(tokens, 1_000);
  after(() => run.stop());
  await until('ticks flowing to both', () => slow.ticks().length > 50 && healthy.ticks().length > 50, 5_000);
  pause(slow);
  const pausedAt = Date.now();
  // The kernel buffers fill first, then the server's send buffer passes the threshold.
  let maxBuffered = 0;
  const ws = await until('the slow socket to be conflating', () => {
    const s = socketOf(slow);
    maxBuffered = Math.max(maxBuffered, s?.getBufferedAmount() ?? 0);
    return conflating(s) && s;
  }, 30_000, 10);
  const conflatingAfter = Date.now() - pausedAt;
  const bufferedWhenConflating = ws.getBufferedAmount();

  // Ticks keep flowing; the server's buffer for the stalled socket stays bounded. Bound: the
  // threshold, plus what one sampling period of this whole feed adds before the switch is seen
  // (1,000 ticks/s × ~700 B × SAMPLE_MS), with room to spare: 2 MiB.
  const BOUND = 2 * 1024 * 1024;
  const watchUntil = Date.now() + 1_500;
  let samples = 0;
  await until('1.5 s of ticks while conflating', () => {
    assert.ok(conflating(ws), 'still conflating');
    maxBuffered = Math.max(maxBuffered, ws.getBufferedAmount());
    samples++;
    return Date.now() >= watchUntil;
  }, 5_000, 10);
  const bufferedAtEnd = ws.getBufferedAmount();
  assert.ok(maxBuffered < BOUND, `server buffered at most ${maxBuffered} bytes for the stalled socket`);
  // Off its topics, nothing more queues up for it (a ping or a status at most).
  assert.ok(bufferedAtEnd <= bufferedWhenConflating + 4_096, `buffer grew from ${bufferedWhenConflating} to ${bufferedAtEnd} B while conflating`);
  await run.stop();

  // The newest value of every token, as the reading neighbour last saw it.
  const last = new Map<number, Msg>();
  for (const t of tokens) {
    const final = run.sent.get(t)!;
    last.set(t, await tickWith(healthy, t, final));
  }

  resume(slow);
  const live = await slow.next((m) => m.type === 'status' && m.state === 'live' && m.tokens === undefined, 10_000, 'status live');
  assert.ok(!conflating(socketOf(slow)), 'the actor is keeping up again');
  const iConflating = slow.inbox.findIndex((m) => m.type === 'status' && m.state === 'conflating');
  assert.ok(iConflating > 0, 'the client was told it is conflating');
  assert.deepEqual(slow.inbox[iConflating], { type: 'status', state: 'conflating' });
  const iLive = slow.inbox.indexOf(live);
  // Backlog (before `conflating`): every token's ticks in order, no hole.
  const backlog = slow.inbox.slice(0, iConflating);
  for (const t of tokens) assertContinuous(backlog, t, 'backlog');
  // Between `conflating` and `live`: exactly the newest value of each token, as a snapshot.
  const catchUp = slow.inbox.slice(iConflating + 1, iLive);
  assert.deepEqual(
    catchUp.map((m) => [m.type, m.token, m.seq, m.ltp, m.snapshot]).sort((a, b) => (a[1] as number) - (b[1] as number)),
    tokens.map((t) => ['tick', t, last.get(t)!.seq, last.get(t)!.ltp, true]),
    'the newest value of every token, nothing else',
  );

  // Live again: the feed resumes and the slow socket continues from those values without a hole.
  const run2 = ticker(tokens, 1_000, run.sent);
  after(() => run2.stop());
  const sentBefore = [...run.sent.values()].reduce((a, b) => a + b, 0);
  await until('a second of ticks', () => [...run2.sent.values()].reduce((a, b) => a + b, 0) >= sentBefore + 1_000, 5_000);
  await run2.stop();
  for (const t of tokens) {
    const final = run2.sent.get(t)!;
    for (const c of [slow, healthy]) await tickWith(c, t, final);
  }
  const afterLive = slow.inbox.slice(iLive + 1);
  for (const t of tokens) {
    const first = afterLive.find((m) => m.token === t);
    assert.equal(first?.seq, last.get(t)!.seq + 1, `token ${t}: the first live tick follows the catch-up value`);
    assertContinuous(afterLive, t, 'after live');
  }
  // The neighbour on the same worker: every tick of every token, in order, with the value sent.
  for (const t of tokens) {
    const got = healthy.ticks(t).filter((m) => !m.snapshot);
    assertContinuous(got, t, 'healthy');
    const total = run2.sent.get(t)!;
    assert.deepEqual(got.map((m) => m.ltp), Array.from({ length: total }, (_, i) => i + 1), `healthy: every value of ${t}`);
  }
  assert.equal(gw.registry.closedWith[4009] ?? 0, closedBefore, 'nobody was closed 4009');
  const tickBytes = Buffer.byteLength(JSON.stringify(healthy.ticks(tokens[0]).at(-1)));
  console.log(`conflation: conflating ${conflatingAfter} ms after the client stopped reading; server buffer for it max ${maxBuffered} B, ${bufferedWhenConflating} B when conflating was seen (threshold ${SLOW_THRESHOLD_BYTES} B, bound ${BOUND} B, sampled every ${SAMPLE_MS} ms by the gateway, ${samples} test samples), ${bufferedAtEnd} B after 1.5 s conflating; full tick ${tickBytes} B; backlog ${backlog.filter((m) => m.type === 'tick').length} ticks`);
});

test('a socket that never reads is closed 4009 after SLOW_CLOSE_MS conflating, and the close is counted', { timeout: 60_000 }, async () => {
  const tokens = [330_011, 330_012, 330_013];
  const mute = await sys.connect(users[2]!.access);
  await mute.request({ op: 'subscribe', tokens, mode: 'full' });
  for (const t of tokens) await untilDemand(sys, t);
  const closedBefore = gw.registry.closedWith[4009] ?? 0;
  pause(mute);
  // A fast feed fills the kernel buffers sooner (the first test shows the 1,000/s case); once the
  // socket is conflating, 1,000/s keep flowing while the slow-close clock runs.
  const burst = ticker(tokens, 5_000);
  after(() => burst.stop());
  let notConflatingAt = Date.now();
  const ws = await until('the mute socket to be conflating', () => {
    const s = socketOf(mute);
    if (conflating(s)) return s;
    notConflatingAt = Date.now();
    return undefined;
  }, 30_000, 10);
  const conflatingSeenAt = Date.now();
  await burst.stop();
  const run = ticker(tokens, 1_000, burst.sent);
  after(() => run.stop());
  await until('the mute socket to be closed by the server', () => ws.getUserData().closed, SLOW_CLOSE_MS + 5_000, 10);
  const closedSeenAt = Date.now();
  await run.stop();
  assert.equal((gw.registry.closedWith[4009] ?? 0) - closedBefore, 1, 'counted as one 4009 close');
  // It entered conflating after `notConflatingAt` and was closed before `closedSeenAt`.
  assert.ok(closedSeenAt - notConflatingAt >= SLOW_CLOSE_MS, `closed at most ${closedSeenAt - notConflatingAt} ms after conflating`);
  assert.ok(closedSeenAt - conflatingSeenAt <= SLOW_CLOSE_MS + 2_000, `closed ${closedSeenAt - conflatingSeenAt} ms after conflating was seen`);
  resume(mute);
  const { code } = await mute.waitClose(15_000);
  assert.ok(code === 4009 || code === 1006, `close code ${code}`);
  console.log(`4009: closed ${conflatingSeenAt - notConflatingAt}..${closedSeenAt - notConflatingAt} ms after entering conflating (SLOW_CLOSE_MS ${SLOW_CLOSE_MS}); the client saw ${code}`);
});
