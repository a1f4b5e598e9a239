/**
 * Limits (§5, §6): failed-login throttle per username and per IP, sockets per user across gateways,
 * upgrade attempts per IP, client messages per socket, request body size.
 *
 * Per-IP limits are tested from distinct loopback source addresses (127.0.0.x all reach the
 * gateway on 127.0.0.1 on Linux), so the tests do not share counters.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { httpFrom } from '../helpers/http-from.ts';
import { startSystem, type System } from '../helpers/system.ts';
import { TestClient } from '../helpers/ws-client.ts';
import { until, withTimeout } from '../helpers/wait.ts';

const sys = await startSystem({ after }, { gateways: 2, env: { LOGIN_LIMIT_PER_MIN: '3,6', BODY_LIMIT_BYTES: '1024' } });
const strict = await startSystem({ after }, { env: { CONN_RATE_PER_IP: '5' } });

interface Res { status: number; headers: http.IncomingHttpHeaders; body: any }


/** A WebSocket upgrade from a chosen source address: the refusal's status and headers, or 101. */
function upgradeFrom(ip: string, s: System, query = ''): Promise<Res> {
  return withTimeout(new Promise<Res>((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port: s.gateways[0]!.port, path: `/ws${query}`, localAddress: ip,
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode!, headers: res.headers, body: undefined });
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (b: Buffer) => (text += b.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end();
  }), 10_000, 'the upgrade answer');
}

const upgradeStatus = (url: string) => TestClient.upgradeStatus(url);

function assertRetryAfter(r: Res, maxS: number) {
  const v = Number(r.headers['retry-after']);
  assert.ok(Number.isInteger(v) && v >= 1 && v <= maxS, `Retry-After ${r.headers['retry-after']}`);
}

test('after 3 failed logins for a username from one IP, that pair\'s next attempt is 429 with Retry-After, even with the right password', async () => {
  const u = await sys.user();
  for (let i = 0; i < 3; i++) {
    const r = await httpFrom('127.0.0.2', sys, 'POST', '/api/auth/login', { username: u.username, password: 'wrong-password' });
    assert.equal(r.status, 401);
  }
  const blocked = await httpFrom('127.0.0.2', sys, 'POST', '/api/auth/login', { username: u.username, password: u.password });
  assert.equal(blocked.status, 429);
  assert.equal(blocked.body.error.code, 'too_many_requests');
  assertRetryAfter(blocked, 60);
  // From another address the right password gets in: failures elsewhere only slow a username
  // (LOGIN_LIMIT_PER_MIN, CONTRACT §2), they never lock its owner out.
  assert.equal((await httpFrom('127.0.0.3', sys, 'POST', '/api/auth/login', { username: u.username, password: u.password })).status, 200);
  // No permanent lockout: the counter is a window that expires within a minute.
  const ttl = await sys.redis.pttl(`tg:throttle:login:p:127.0.0.2:${u.username}`);
  assert.ok(ttl > 0 && ttl <= 60_000, `window ttl ${ttl}`);
  // The same address may still log in as someone else: its IP counter (3) is below 6.
  const v = await sys.user();
  assert.equal((await httpFrom('127.0.0.2', sys, 'POST', '/api/auth/login', { username: v.username, password: v.password })).status, 200);
});

test('successful logins are not counted', async () => {
  const u = await sys.user();
  for (let i = 0; i < 8; i++) {
    assert.equal((await httpFrom('127.0.0.4', sys, 'POST', '/api/auth/login', { username: u.username, password: u.password })).status, 200);
  }
});

test('after 6 failed logins from one IP, any login from it is 429; other IPs are unaffected', async () => {
  for (let i = 0; i < 6; i++) {
    const r = await httpFrom('127.0.0.5', sys, 'POST', '/api/auth/login', { username: `nobody_${i}_${process.pid}`, password: 'whatever-it-is' });
    assert.equal(r.status, 401);
  }
  const u = await sys.user();
  const blocked = await httpFrom('127.0.0.5', sys, 'POST', '/api/auth/login', { username: u.username, password: u.password });
  assert.equal(blocked.status, 429);
  assertRetryAfter(blocked, 60);
  assert.equal((await httpFrom('127.0.0.6', sys, 'POST', '/api/auth/login', { username: u.username, password: u.password })).status, 200);
});

test('parallel wrong guesses cannot overshoot the username limit', async () => {
  const u = await sys.user();
  const results = await Promise.all(Array.from({ length: 10 }, () =>
    httpFrom('127.0.0.7', sys, 'POST', '/api/auth/login', { username: u.username, password: 'wrong-password' })));
  const statuses = results.map((r) => r.status);
  assert.equal(statuses.filter((s) => s === 401).length, 3, statuses.join(','));
  assert.equal(statuses.filter((s) => s === 429).length, 7);
});

test('the 21st socket of a user is refused with 429, counted across both gateways; closing one frees a place', async () => {
  const u = await sys.user();
  const open: TestClient[] = [];
  for (let i = 0; i < 20; i++) open.push(await sys.connect(u.access, i % 2));
  for (const gw of [0, 1]) {
    assert.equal(await upgradeStatus(`ws://127.0.0.1:${sys.gateways[gw]!.port}/ws?access_token=${u.access}`), 429);
  }
  open[0]!.close();
  await open[0]!.waitClose();
  const { id } = (await sys.http('GET', '/api/me', undefined, u.access)).body;
  await until('the lease to be released', async () => (await sys.redis.zcard(`tg:usock:${id}`)) < 20);
  const again = await sys.connect(u.access, 1);
  assert.equal((await again.request({ op: 'ping' })).type, 'pong');
  for (const c of open.slice(1)) c.ws.terminate();
});

test('the 429 for too many sockets is a coded JSON error', async () => {
  const u = await sys.user();
  for (let i = 0; i < 20; i++) await sys.connect(u.access, 0);
  const r = await upgradeFrom('127.0.0.1', sys, `?access_token=${u.access}`);
  assert.equal(r.status, 429);
  assert.equal(r.body.error.code, 'too_many_sockets');
});

test('more than CONN_RATE_PER_IP upgrade attempts from one IP in 10 s are refused with 429 and Retry-After', async () => {
  const u = await strict.user();
  for (let i = 0; i < 4; i++) assert.equal((await upgradeFrom('127.0.0.8', strict)).status, 401, 'attempts count, valid or not');
  assert.equal((await upgradeFrom('127.0.0.8', strict, `?access_token=${u.access}`)).status, 101);
  const r = await upgradeFrom('127.0.0.8', strict, `?access_token=${u.access}`);
  assert.equal(r.status, 429);
  assert.equal(r.body.error.code, 'too_many_requests');
  assertRetryAfter(r, 10);
  assert.equal((await upgradeFrom('127.0.0.9', strict, `?access_token=${u.access}`)).status, 101, 'another IP is unaffected');
});

test('a message flood gets rate_limited errors, then the socket is closed with 4008', async () => {
  const u = await sys.user();
  const c = await sys.connect(u.access);
  const closed = c.waitClose();
  for (let i = 0; i < 300; i++) c.send({ op: 'ping', id: i });
  const { code } = await closed;
  assert.equal(code, 4008);
  const pongs = c.inbox.filter((m) => m.type === 'pong');
  const limited = c.inbox.filter((m) => m.type === 'error' && m.code === 'rate_limited');
  assert.ok(pongs.length >= 40, `the burst is served (${pongs.length} pongs)`);
  assert.ok(limited.length > 0, 'rate_limited errors before the close');
  assert.ok(c.inbox.indexOf(limited[0]!) > c.inbox.indexOf(pongs[0]!));
});

test('a request body over BODY_LIMIT_BYTES is refused with 413', async () => {
  const big = { username: 'x'.repeat(1100), password: 'long-enough-password' };
  const r = await sys.http('POST', '/api/auth/register', big);
  assert.equal(r.status, 413);
  assert.equal(r.body.error.code, 'body_too_large');
  // A Content-Length that claims too much is refused without reading the body.
  const claimed = await httpFrom('127.0.0.1', sys, 'POST', '/api/auth/login', undefined, { 'content-type': 'application/json', 'content-length': '5000' });
  assert.equal(claimed.status, 413);
  // At the limit is fine (here: a valid-looking body of exactly 1024 bytes is judged on content).
  const pad = 1024 - JSON.stringify({ username: 'ab', password: '' }).length;
  const exact = JSON.stringify({ username: 'ab', password: 'p'.repeat(pad) });
  assert.equal(Buffer.byteLength(exact), 1024);
  assert.equal((await sys.http('POST', '/api/auth/register', exact)).status, 400);
});
