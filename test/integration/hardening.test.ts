/**
 * Hardening (§5, §6): login failures reveal nothing about which usernames exist, registration
 * rules, the Origin check on the upgrade, and client JSON that never reaches an object's prototype
 * or a response header.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startSystem } from '../helpers/system.ts';
import { TestClient } from '../helpers/ws-client.ts';
import { until } from '../helpers/wait.ts';

const sys = await startSystem({ after });
const listed = await startSystem({ after }, { env: { ALLOWED_ORIGINS: 'https://app.example.com, http://localhost:3000' } });

const upgradeStatus = TestClient.upgradeStatus;

async function timedLogin(username: string, password: string) {
  const t0 = performance.now();
  const r = await sys.http('POST', '/api/auth/login', { username, password });
  return { ms: performance.now() - t0, status: r.status, body: r.body };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

test('an unknown username and a wrong password get the same 401 body in similar time', async () => {
  const u = await sys.user();
  const unknown: number[] = [];
  const wrong: number[] = [];
  // Interleaved, so machine load affects both alike; few enough to stay under the IP throttle.
  for (let i = 0; i < 4; i++) {
    const a = await timedLogin(`nobody_${process.pid}_${i}`, 'some-password-1');
    const b = await timedLogin(u.username, `wrong-password-${i}`);
    assert.equal(a.status, 401);
    assert.equal(b.status, 401);
    assert.deepEqual(a.body, b.body);
    assert.equal(a.body.error.code, 'invalid_credentials');
    unknown.push(a.ms);
    wrong.push(b.ms);
  }
  const [mu, mw] = [median(unknown), median(wrong)];
  // Both pay for a bcrypt verification (cost 10: tens of milliseconds); neither answers early.
  assert.ok(mu >= 10 && mw >= 10, `unknown ${mu.toFixed(1)} ms, wrong password ${mw.toFixed(1)} ms`);
  assert.ok(Math.max(mu, mw) / Math.min(mu, mw) < 3, `unknown ${mu.toFixed(1)} ms vs wrong password ${mw.toFixed(1)} ms`);
});

test('passwords must be 8–72 bytes of UTF-8: 73 bytes is 400, 72 bytes is fine', async () => {
  const reg = (username: string, password: string) => sys.http('POST', '/api/auth/register', { username, password });
  const name = (s: string) => `pw_${s}_${process.pid}`;
  const r73 = await reg(name('a73'), 'a'.repeat(73));
  assert.equal(r73.status, 400);
  assert.equal(r73.body.error.code, 'invalid_body');
  assert.equal((await reg(name('e74'), 'é'.repeat(37))).status, 400, '37 × é is 74 bytes though 37 characters');
  assert.equal((await reg(name('short'), 'seven77')).status, 400);
  assert.equal((await reg(name('a72'), 'a'.repeat(72))).status, 201);
  assert.equal((await reg(name('e72'), 'é'.repeat(36))).status, 201);
  // bcrypt reads 72 bytes: a 73rd byte must not be silently ignored at login either.
  assert.equal((await sys.http('POST', '/api/auth/login', { username: name('a72'), password: 'a'.repeat(73) })).status, 401);
});

test('usernames are 3–32 characters of A–Z a–z 0–9 _ . - and unique', async () => {
  for (const username of ['ab', 'x'.repeat(33), 'has space', 'üser', 'a/b', 'semi;colon', '', 'new\nline']) {
    const r = await sys.http('POST', '/api/auth/register', { username, password: 'long-enough-password' });
    assert.equal(r.status, 400, JSON.stringify(username));
    assert.equal(r.body.error.code, 'invalid_body');
  }
  const ok = `Ok.name-${process.pid}_x`.slice(0, 32);
  assert.equal((await sys.http('POST', '/api/auth/register', { username: ok, password: 'long-enough-password' })).status, 201);
  const dup = await sys.http('POST', '/api/auth/register', { username: ok, password: 'long-enough-password' });
  assert.equal(dup.status, 409);
  assert.equal(dup.body.error.code, 'username_taken');
});

test('the upgrade refuses a foreign Origin with 403 forbidden_origin; same-host and absent Origin are allowed', async () => {
  const u = await sys.user();
  const url = `${sys.wsUrl}?access_token=${u.access}`;
  const port = sys.gateways[0]!.port;
  for (const origin of ['https://evil.example', `http://127.0.0.1:${port + 1}`, 'null', 'not a url', `file://127.0.0.1:${port}`]) {
    assert.equal(await upgradeStatus(url, { origin }), 403, origin);
  }
  assert.equal(await upgradeStatus(url, { origin: `http://127.0.0.1:${port}` }), 'open');
  assert.equal(await upgradeStatus(url, {}), 'open', 'a client without Origin');

  // The refusal is a coded JSON error.
  const raw = net.connect(port, '127.0.0.1');
  let text = '';
  raw.on('data', (b) => (text += b.toString()));
  raw.write(
    `GET /ws?access_token=${u.access} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: https://evil.example\r\nUpgrade: websocket\r\n` +
      'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  await until('a complete response', () => /\r\n\r\n\{.*\}$/s.test(text));
  raw.destroy();
  assert.match(text, /^HTTP\/1\.1 403 /);
  assert.equal(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)).error.code, 'forbidden_origin');
});

test('with ALLOWED_ORIGINS only the listed origins may open sockets', async () => {
  const u = await listed.user();
  const url = `${listed.wsUrl}?access_token=${u.access}`;
  assert.equal(await upgradeStatus(url, { origin: 'https://app.example.com' }), 'open');
  assert.equal(await upgradeStatus(url, { origin: 'http://localhost:3000' }), 'open');
  assert.equal(await upgradeStatus(url, { origin: `http://127.0.0.1:${listed.gateways[0]!.port}` }), 403, 'same host, not listed');
  assert.equal(await upgradeStatus(url, { origin: 'https://app.example.com.evil.example' }), 403);
  assert.equal(await upgradeStatus(url, { origin: 'http://app.example.com' }), 403, 'scheme matters');
  assert.equal(await upgradeStatus(url, {}), 'open');
});

test('client JSON never pollutes prototypes or reaches response headers', async () => {
  const polluted = '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},' +
    `"username":"proto_${process.pid}","password":"long-enough-password"}`;
  const r = await sys.http('POST', '/api/auth/register', polluted);
  assert.equal(r.status, 201);
  assert.deepEqual(Object.keys(r.body).sort(), ['id', 'username']);
  const u = await sys.user();
  const c = await sys.connect(u.access);
  // Sent as text: an object literal's __proto__ would set the prototype, not a key.
  const reply = c.next((m) => m.id === 'p1', 5_000, 'the subscribe ack');
  c.send('{"op":"subscribe","tokens":[1],"id":"p1","__proto__":{"mode":"full","polluted":true},"constructor":{"prototype":{"polluted":true}}}');
  const ack = await reply;
  assert.equal(ack.type, 'subscribed');
  assert.equal(ack.mode, 'quote');
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is clean in the gateway process');

  const sneaky = await sys.http('POST', '/api/auth/login', { username: 'x\r\nX-Injected: 1', password: 'y\r\nSet-Cookie: a=b' });
  assert.equal(sneaky.status, 401);
  assert.equal(sneaky.headers.get('x-injected'), null);
  assert.equal(sneaky.headers.get('set-cookie'), null);
});
