/** The upgrade is the gate: without a valid access token there is no socket, only HTTP 401. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startSystem } from '../helpers/system.ts';
import { claimsOf, forge, unsigned } from '../helpers/jwt.ts';
import { TestClient } from '../helpers/ws-client.ts';
import { until } from '../helpers/wait.ts';

const sys = await startSystem({ after });
const u = await sys.user();
const { sub, sid } = claimsOf(u.access);

const upgradeStatus = TestClient.upgradeStatus;

test('a valid token opens a socket, by query parameter or by Authorization header', async () => {
  assert.equal(await upgradeStatus(`${sys.wsUrl}?access_token=${u.access}`), 'open');
  assert.equal(await upgradeStatus(sys.wsUrl, { authorization: `Bearer ${u.access}` }), 'open');
});

test('welcome names the user, the worker, the heartbeat, the expiry and the limits', async () => {
  const c = await TestClient.connect(`${sys.wsUrl}?access_token=${u.access}`);
  const w = await c.nextOfType('welcome');
  c.ws.terminate();
  assert.equal(w.user, u.username);
  assert.equal(w.worker, String(process.pid));
  assert.equal(w.heartbeat_ms, sys.config.heartbeatMs);
  assert.equal(w.expires_at, claimsOf(u.access).exp * 1000);
  assert.equal(typeof w.conn_id, 'string');
  assert.deepEqual(w.limits, { max_tokens_per_socket: 3000, max_frame_bytes: 65536, msg_rate: 20, msg_burst: 40 });
});

const now = () => Math.floor(Date.now() / 1000);
const refused: [string, () => Promise<string> | string][] = [
  ['no token', () => ''],
  ['garbage', () => 'not-a-jwt'],
  ['a bad signature', () => forge({ sub, sid, secret: 'another-secret-another-secret-0123456789' })],
  ['an expired token', () => forge({ sub, sid, iat: now() - 3600, exp: now() - 1800 })],
  ['alg none', () => unsigned({ sub, sid, iss: 'tickgate', aud: 'tickgate', iat: now(), exp: now() + 600 })],
  ['a tampered payload', async () => {
    const [h, , s] = u.access.split('.');
    const p = Buffer.from(JSON.stringify({ ...claimsOf(u.access), sub: 'someone-else' })).toString('base64url');
    return `${h}.${p}.${s}`;
  }],
];

for (const [what, make] of refused) {
  test(`the upgrade with ${what} is refused with HTTP 401 and no socket`, async () => {
    const token = await make();
    const url = token ? `${sys.wsUrl}?access_token=${encodeURIComponent(token)}` : sys.wsUrl;
    assert.equal(await upgradeStatus(url), 401);
    if (token) assert.equal(await upgradeStatus(sys.wsUrl, { authorization: `Bearer ${token}` }), 401);
  });
}

test('the 401 body is a coded JSON error', async () => {
  const port = sys.gateways[0]!.port;
  const raw = net.connect(port, '127.0.0.1');
  let text = '';
  raw.on('data', (b) => (text += b.toString()));
  raw.write(
    `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  await until('a complete response', () => /\r\n\r\n\{.*\}$/s.test(text));
  raw.destroy();
  assert.match(text, /^HTTP\/1\.1 401 /);
  const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
  assert.equal(body.error.code, 'unauthorized');
});
