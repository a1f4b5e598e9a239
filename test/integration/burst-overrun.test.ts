/**
 * A burst must not overrun a stalled socket before it conflates. The gateway samples send buffers
 * on a timer, but a burst of ticks is handled in one long run of the event loop that no timer
 * interrupts: without a check on the tick path itself, a socket that stopped reading went from
 * nothing buffered past uWS's 4 MiB limit unseen, and uWS dropped it (1006, no 4009, no
 * `conflating`). Here SLOW_CLOSE_MS is long, so the timer samples once a second at most.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSystem, startTestFeed, untilDemand } from '../helpers/system.ts';
import { until } from '../helpers/wait.ts';

const sys = await startSystem({ after }, { env: { SLOW_CLOSE_MS: '60000' } });
const feed = await startTestFeed({ after }, sys.feedEndpoint);

test('a burst far past 4 MiB reaches a stalled socket as conflation, not as a dropped connection', { timeout: 90_000 }, async () => {
  const T = 77;
  const u = await sys.user();
  const slow = await sys.connect(u.access);
  await slow.request({ op: 'subscribe', tokens: [T], mode: 'full' });
  await untilDemand(sys, T);
  const gw = sys.gateways[0]!;
  const slowConnId = slow.inbox[0]!.conn_id;
  const socket = () => [...gw.registry.all()].find((ws) => ws.getUserData().connId === slowConnId);
  const actor = socket()!.getUserData().actor!;
  let conflatedAt = 0;
  actor.subscribe((snap) => {
    if (!conflatedAt && snap.matches({ open: { flow: 'conflating' } })) conflatedAt = Date.now();
  });
  (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  // ~40 MB of full-mode ticks: several times what the kernel's socket buffers and uWS's limit hold.
  const level = { price: 1234.55, qty: 100000, orders: 25 };
  const depth = { buy: Array(5).fill(level), sell: Array(5).fill(level) };
  const N = 60_000;
  let sent = 0;
  while (sent < N && socket() && !conflatedAt) {
    for (let i = 0; i < 500; i++) await feed.send(JSON.stringify({ token: T, ltp: 1000 + (++sent % 500), volume: sent, depth }));
  }
  await until('the stalled socket to conflate or be dropped', () => conflatedAt > 0 || !socket(), 30_000);
  const dropped = !socket();
  assert.equal(gw.registry.closedWith[1006] ?? 0, 0, 'no connection dropped');
  assert.ok(!dropped && conflatedAt > 0, `the socket conflated (sent ${sent} ticks${dropped ? ', socket dropped by uWS' : ''})`);
  assert.ok(socket()!.getBufferedAmount() <= 4 * 1024 * 1024, 'the send buffer stays under uWS\'s limit');
  // Reading again, the client learns it was behind, catches up and keeps streaming.
  (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
  await until('the client to see `conflating`', () => slow.inbox.some((m) => m.type === 'status' && m.state === 'conflating'), 30_000);
  await until('the socket to catch up', () => !actor.getSnapshot().matches({ open: { flow: 'conflating' } }), 30_000);
  const before = slow.ticks(T).length;
  await feed.send(JSON.stringify({ token: T, ltp: 1, volume: ++sent, depth }));
  await until('a live tick after catching up', () => slow.ticks(T).length > before, 15_000);
  assert.ok(socket(), 'still connected');
});
