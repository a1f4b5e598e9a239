/** Liveness with a short heartbeat: answering clients stay, silent ones are closed 4000. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSystem } from '../helpers/system.ts';
import { TestClient } from '../helpers/ws-client.ts';

const HEARTBEAT_MS = 300;
const PONG_TIMEOUT_MS = 300;
const sys = await startSystem({ after }, { env: { HEARTBEAT_MS: String(HEARTBEAT_MS), PONG_TIMEOUT_MS: String(PONG_TIMEOUT_MS) } });
const u = await sys.user();

test('a client that answers pings stays connected for more than three heartbeat periods', async () => {
  const c = await TestClient.connect(`${sys.wsUrl}?access_token=${u.access}`); // ws answers pings itself
  let pings = 0;
  c.ws.on('ping', () => pings++);
  await new Promise<void>((resolve) => {
    const onPing = () => {
      if (pings >= 5) {
        c.ws.off('ping', onPing);
        resolve();
      }
    };
    c.ws.on('ping', onPing);
  });
  assert.equal(c.ws.readyState, c.ws.OPEN, 'still open after 5 heartbeats');
  assert.equal((await c.request({ op: 'ping' })).type, 'pong');
  c.close();
  assert.equal((await c.waitClose()).code, 1005);
});

test('a client that stops answering is closed with 4000 after heartbeat + pong timeout', async () => {
  const c = await TestClient.connect(`${sys.wsUrl}?access_token=${u.access}`, { autoPong: false });
  const opened = Date.now();
  const { code } = await c.waitClose(5 * (HEARTBEAT_MS + PONG_TIMEOUT_MS));
  const silentFor = Date.now() - opened;
  assert.equal(code, 4000);
  assert.ok(silentFor >= HEARTBEAT_MS + PONG_TIMEOUT_MS - 20, `closed after ${silentFor} ms`);
});

test('application messages count as life even without pongs', async () => {
  const c = await TestClient.connect(`${sys.wsUrl}?access_token=${u.access}`, { autoPong: false });
  for (let i = 0; i < 8; i++) {
    await new Promise<void>((resolve) => c.ws.once('ping', () => resolve()));
    assert.equal((await c.request({ op: 'ping' })).type, 'pong');
  }
  assert.equal(c.ws.readyState, c.ws.OPEN);
  c.close();
});
