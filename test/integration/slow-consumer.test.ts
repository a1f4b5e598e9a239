/**
 * A client that stops reading is closed 4009 after SLOW_CLOSE_MS behind, never left silently
 * missing ticks; a client that reads keeps streaming beside it.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSystem, startTestFeed, untilDemand } from '../helpers/system.ts';
import { until } from '../helpers/wait.ts';

const SLOW_CLOSE_MS = 500;
// A heartbeat far beyond the test: the paused client cannot answer pings, and its liveness close
// must not come first.
const sys = await startSystem({ after }, { env: { SLOW_CLOSE_MS: String(SLOW_CLOSE_MS), HEARTBEAT_MS: '300000' } });
const feed = await startTestFeed({ after }, sys.feedEndpoint);

test('a client that reads nothing is closed 4009 after SLOW_CLOSE_MS; a reading client keeps its ticks', { timeout: 60_000 }, async () => {
  const T = 55;
  const u = await sys.user();
  const slow = await sys.connect(u.access);
  const fast = await sys.connect(u.access);
  for (const c of [slow, fast]) await c.request({ op: 'subscribe', tokens: [T], mode: 'full' });
  await untilDemand(sys, T);
  const gw = sys.gateways[0]!;
  const slowConnId = slow.inbox[0]!.conn_id;
  // Stop reading: the kernel buffers fill, then the server's send buffer grows.
  (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
  const level = { price: 100, qty: 10, orders: 2 };
  const depth = { buy: Array(5).fill(level), sell: Array(5).fill(level) };
  let sent = 0;
  // The moments the actor fell behind and closed, taken when they happen (the polling below can
  // run late on a loaded machine).
  let behindAt = 0;
  let lastBehindAt = 0;
  let behind = false;
  let closedAt = 0;
  const actor = [...gw.registry.all()].find((ws) => ws.getUserData().connId === slowConnId)!.getUserData().actor!;
  actor.subscribe((snap) => {
    const now = snap.matches({ open: { flow: 'conflating' } });
    if (now && !behind) {
      lastBehindAt = Date.now();
      behindAt ||= lastBehindAt;
    }
    behind = now;
    if (!closedAt && snap.status === 'done') closedAt = Date.now();
  });
  const isOpen = () => [...gw.registry.all()].some((ws) => ws.getUserData().connId === slowConnId);
  await until('the slow socket to be closed by the server', async () => {
    if (!isOpen()) return true;
    // Keep the feed going until the server closes the socket: 50 ticks (~30 KB) per 5 ms poll. A
    // first fall behind can end in a catch-up (the kernel's socket buffers still had room and
    // drained the send buffer, seen on a loaded CI machine), and without further ticks the socket
    // would then never fall behind again. (A full run once counted no 4009 with 200 per poll: a
    // burst pushed the send buffer past uWS's 4 MiB limit between two timer samples. The gateway
    // now also samples per MiB published; burst-overrun.test.ts covers that case.)
    for (let i = 0; i < 50; i++) await feed.send(JSON.stringify({ token: T, ltp: ++sent, depth }));
    return false;
  }, 30_000, 5);
  assert.ok(behindAt > 0 && closedAt > 0, 'the actor fell behind, then closed');
  // SLOW_CLOSE_MS counts from the fall behind that the socket never recovered from.
  const closedAfter = closedAt - lastBehindAt;
  assert.equal(gw.registry.closedWith[4009], 1, 'counted as a 4009 close');
  assert.ok(closedAfter >= SLOW_CLOSE_MS - 100, `closed ${closedAfter} ms after falling behind the last time`);
  // The reading client got every tick, in order.
  await until('the fast client to get every tick', () => fast.ticks(T).filter((t) => !t.snapshot).length >= sent, 15_000);
  const live = fast.ticks(T).filter((t) => !t.snapshot);
  assert.deepEqual(live.map((t) => t.ltp), Array.from({ length: sent }, (_, i) => i + 1));
  // Once it reads again, the slow client learns it was cut off instead of silently missing ticks.
  (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
  const { code } = await slow.waitClose(15_000);
  assert.ok(code === 4009 || code === 1006, `close code ${code}`);
  assert.ok(slow.ticks(T).length < sent + 1, 'the slow client did not get everything, and knows it');
});
