/**
 * The SDK (§10) against a real gateway: it reconnects by itself after a restart and recovers what
 * it missed (or reports it as gaps), honours a drain's `reconnect_after_ms`, and stops for good
 * after 4003 with the reason in `closed`.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { TickgateClient, type ClientEvents } from 'tickgate/client';
import { startCountingFeed } from '../helpers/control.ts';
import { freePort, freshFetch } from '../helpers/free-port.ts';
import { startSystem } from '../helpers/system.ts';
import { until } from '../helpers/wait.ts';

const port = await freePort();
const sys = await startSystem({ after }, { env: { PORT: String(port) } });
const url = `http://127.0.0.1:${port}`;
const feed = await startCountingFeed({ after }, sys.feedEndpoint);

/** Every event a client emits, in order, with its receive time. */
function record(c: TickgateClient) {
  const events: { name: keyof ClientEvents; at: number; payload: any }[] = [];
  for (const name of ['tick', 'status', 'gap', 'epoch', 'notice', 'error', 'connected', 'reconnecting', 'closed', 'shutdown'] as const) {
    c.on(name, (payload) => events.push({ name, at: Date.now(), payload }));
  }
  return events;
}

async function loggedIn() {
  const u = await sys.user();
  const c = new TickgateClient({ url, fetch: freshFetch });
  after(() => c.close());
  await c.login(u.username, u.password);
  return { c, u, events: record(c) };
}

/** Restarts the (only) gateway on the same port; the old one drains its sockets first. */
async function restartGateway() {
  const old = sys.gateways.shift()!;
  await old.close();
  await sys.startGateway();
}

test('after a gateway restart the client reconnects by itself and recovers or reports every missed tick', async () => {
  const token = 7001;
  const { c, events } = await loggedIn();
  await c.connect();
  const ack = await c.subscribe([token]);
  assert.deepEqual(ack?.tokens, [token]);
  let running = true;
  const publishing = (async () => {
    while (running) {
      await feed.tick(token);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  await until('ticks before the restart', () => events.filter((e) => e.name === 'tick').length >= 20);
  await restartGateway();
  await until('a reconnect', () => events.some((e) => e.name === 'connected' && e.payload.reconnect), 15_000);
  const reconnectedAt = events.findIndex((e) => e.name === 'connected' && e.payload.reconnect);
  await until('ticks after the reconnect', () => events.slice(reconnectedAt).filter((e) => e.name === 'tick').length >= 20, 10_000);
  running = false;
  await publishing;

  assert.ok(events.some((e) => e.name === 'reconnecting'), 'reconnecting was emitted');
  assert.ok(!events.some((e) => e.name === 'closed'), 'never closed for good');
  const seqs = events.filter((e) => e.name === 'tick' && !e.payload.snapshot).map((e) => e.payload.seq as number);
  const covered = new Set(seqs);
  for (const e of events) if (e.name === 'gap') for (let s = e.payload.from; s <= e.payload.to; s++) covered.add(s);
  const first = Math.min(...seqs);
  const last = Math.max(...seqs);
  const missing = [];
  for (let s = first; s <= last; s++) if (!covered.has(s)) missing.push(s);
  assert.deepEqual(missing, [], 'every seq was received or reported as a gap');
  assert.equal(new Set(seqs).size, seqs.length, 'no tick twice');
  assert.equal(c.view.get(token)?.tick.seq, last, 'the view holds the newest tick');
  const server = await c.list();
  assert.deepEqual(server, { [token]: 'quote' }, 'resubscribed with the same mode');
});

test("a drain's reconnect_after_ms is honoured (within the client's jitter)", async () => {
  const { c, events } = await loggedIn();
  await c.connect();
  const closing = restartGateway();
  const shutdown = await until('shutdown', () => events.find((e) => e.name === 'shutdown'), 5_000);
  await closing;
  const reconnecting = await until('reconnecting', () => events.find((e) => e.name === 'reconnecting'), 5_000);
  const connected = await until('the reconnect', () => events.find((e) => e.name === 'connected' && e.payload.reconnect), 10_000);
  const after_ms = shutdown.payload.reconnectAfterMs as number;
  assert.ok(after_ms >= 500, `reconnect_after_ms ${after_ms}`);
  assert.ok(reconnecting.payload.delayMs >= after_ms && reconnecting.payload.delayMs <= after_ms + 500, `planned ${reconnecting.payload.delayMs} ms for ${after_ms}`);
  const waited = connected.at - shutdown.at;
  assert.ok(waited >= after_ms, `reconnected ${waited} ms after the shutdown, asked for ${after_ms}`);
  assert.ok(waited <= after_ms + 500 + 1_500, `reconnected ${waited} ms after the shutdown, asked for ${after_ms}`);
});

test('after 4003 (logout elsewhere) the client stops and says why in closed', async () => {
  const { c, events } = await loggedIn();
  await c.connect();
  const r = await sys.http('POST', '/api/auth/logout', undefined, c.session!.accessToken);
  assert.equal(r.status, 204);
  const closed = await until('closed', () => events.find((e) => e.name === 'closed'), 5_000);
  assert.equal(closed.payload.code, 4003);
  assert.ok(closed.payload.reason.length > 0);
  assert.equal(c.state, 'closed');
  await new Promise((r) => setTimeout(r, 1_000));
  assert.ok(!events.some((e) => e.name === 'reconnecting'), 'no reconnect after 4003');
});

test('connect to a server that is down rejects with unreachable and does not retry', async () => {
  const u = await sys.user();
  const down = await freePort();
  const c = new TickgateClient({ url: `http://127.0.0.1:${down}`, session: { accessToken: u.access, refreshToken: u.refresh, accessExpiresAt: Date.now() + 600_000 } });
  await assert.rejects(c.connect(), (err: any) => err.code === 'unreachable');
  assert.equal(c.state, 'closed');
});
