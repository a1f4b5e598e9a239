/**
 * Session lifecycle across gateway instances: refresh rotation, reuse detection, logout reaching
 * every worker (in-process and a real child process), and REST subscriptions acting on every
 * socket of the caller's session.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSystem, startTestFeed, untilDemand, TEST_JWT_SECRET } from '../helpers/system.ts';
import { claimsOf } from '../helpers/jwt.ts';
import { TestClient } from '../helpers/ws-client.ts';
import { until, withTimeout } from '../helpers/wait.ts';

// A short grace window, so that reuse after it can be shown without a long wait.
const GRACE_MS = 300;
const sys = await startSystem({ after }, { gateways: 2, env: { REFRESH_GRACE_MS: String(GRACE_MS) } });
const feed = await startTestFeed({ after }, sys.feedEndpoint);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

async function login(username: string, password: string, gateway = 0) {
  const r = await sys.http('POST', '/api/auth/login', { username, password }, undefined, gateway);
  assert.equal(r.status, 200);
  return { access: r.body.access_token as string, refresh: r.body.refresh_token as string };
}

/** The close code and when it arrived. */
function closeOf(c: TestClient) {
  return withTimeout(c.closed.then((x) => ({ ...x, at: Date.now() })), 5_000, 'the socket to close');
}

test('refresh rotates: a new pair of the login shape whose tokens work, the old refresh token no longer does', async () => {
  const u = await sys.user();
  const r = await sys.http('POST', '/api/auth/refresh', { refresh_token: u.refresh });
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.body).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type']);
  assert.equal(r.body.token_type, 'Bearer');
  assert.equal(r.body.expires_in, sys.config.accessTtlS);
  assert.notEqual(r.body.refresh_token, u.refresh);
  assert.match(r.body.refresh_token, /^[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}$/, '256 random bits after the session id');
  assert.equal(claimsOf(r.body.access_token).sid, claimsOf(u.access).sid, 'same session');
  assert.equal((await sys.http('GET', '/api/me', undefined, r.body.access_token)).status, 200);

  // The rotated pair rotates again, on the other gateway.
  const r2 = await sys.http('POST', '/api/auth/refresh', { refresh_token: r.body.refresh_token }, undefined, 1);
  assert.equal(r2.status, 200);
  // Only hashes are stored: the plain refresh token appears nowhere in Redis.
  const session = await sys.redis.hgetall(`tg:sess:${claimsOf(u.access).sid}`);
  assert.ok(!Object.values(session).includes(r2.body.refresh_token));
  assert.ok(!Object.values(session).some((v) => v.includes(r2.body.refresh_token.split('.')[1])));
});

test('reusing a rotated refresh token is 401, revokes the whole session, and closes its sockets on every gateway with 4003', async () => {
  const u = await sys.user();
  const onGw1 = await sys.connect(u.access, 1);
  const onGw0 = await sys.connect(u.access, 0);
  const other = await login(u.username, u.password); // another session of the same user
  const bystander = await sys.connect(other.access, 1);
  const closed1 = closeOf(onGw1);
  const closed0 = closeOf(onGw0);

  const fresh = await sys.http('POST', '/api/auth/refresh', { refresh_token: u.refresh });
  assert.equal(fresh.status, 200);
  await new Promise((r) => setTimeout(r, GRACE_MS + 50)); // past REFRESH_GRACE_MS: reuse, not a race
  const reuse = await sys.http('POST', '/api/auth/refresh', { refresh_token: u.refresh });
  assert.equal(reuse.status, 401);
  assert.equal(reuse.body.error.code, 'invalid_refresh_token');

  assert.equal((await closed1).code, 4003);
  assert.equal((await closed0).code, 4003);
  // Everything of that session is dead, including the pair the legitimate rotation returned.
  assert.equal((await sys.http('POST', '/api/auth/refresh', { refresh_token: fresh.body.refresh_token })).status, 401);
  assert.equal((await sys.http('GET', '/api/me', undefined, fresh.body.access_token)).status, 401);
  assert.equal((await sys.http('GET', '/api/me', undefined, u.access)).status, 401);
  // The user's other session is untouched.
  assert.equal((await bystander.request({ op: 'ping' })).type, 'pong');
  assert.equal((await sys.http('GET', '/api/me', undefined, other.access)).status, 200);
});

test('two concurrent refreshes with the same token on different gateways: one succeeds, the other is refresh_superseded and the session survives', async () => {
  for (let round = 0; round < 5; round++) {
    const u = await sys.user();
    const [a, b] = await Promise.all([
      sys.http('POST', '/api/auth/refresh', { refresh_token: u.refresh }, undefined, 0),
      sys.http('POST', '/api/auth/refresh', { refresh_token: u.refresh }, undefined, 1),
    ]);
    assert.deepEqual([a.status, b.status].sort(), [200, 401], `round ${round}`);
    const [won, lost] = a.status === 200 ? [a, b] : [b, a];
    assert.equal(lost.body.error.code, 'refresh_superseded', `round ${round}`);
    assert.equal((await sys.http('GET', '/api/me', undefined, won.body.access_token)).status, 200, 'nothing revoked');
    assert.equal((await sys.http('POST', '/api/auth/refresh', { refresh_token: won.body.refresh_token })).status, 200);
  }
});

test('unknown, malformed and missing refresh tokens are refused', async () => {
  const u = await sys.user();
  const sid = claimsOf(u.access).sid;
  const forged = `${sid}.${'A'.repeat(43)}`;
  for (const refresh_token of [forged, 'garbage', '', `${sid}.`, u.access]) {
    const r = await sys.http('POST', '/api/auth/refresh', { refresh_token });
    assert.equal(r.status, 401, refresh_token);
    assert.equal(r.body.error.code, 'invalid_refresh_token');
  }
  // A guess at a session's token is not "reuse": the session survives it.
  assert.equal((await sys.http('GET', '/api/me', undefined, u.access)).status, 200);
  assert.equal((await sys.http('POST', '/api/auth/refresh', {})).status, 400);
  assert.equal((await sys.http('POST', '/api/auth/refresh', { refresh_token: 42 })).status, 400);
  assert.equal((await sys.http('POST', '/api/auth/refresh', 'not json')).status, 400);
});

test('logout on one gateway is 204 and closes the session\'s socket on another gateway with 4003 within 100 ms', async () => {
  const u = await sys.user();
  const victim = await sys.connect(u.access, 1);
  const other = await login(u.username, u.password);
  const bystander = await sys.connect(other.access, 1);
  const closed = closeOf(victim);

  const r = await sys.http('POST', '/api/auth/logout', undefined, u.access, 0);
  const answeredAt = Date.now();
  assert.equal(r.status, 204);
  const c = await closed;
  assert.equal(c.code, 4003);
  assert.ok(c.at - answeredAt <= 100, `closed ${c.at - answeredAt} ms after the logout was answered`);

  assert.equal((await sys.http('GET', '/api/me', undefined, u.access)).status, 401);
  assert.equal((await sys.http('POST', '/api/auth/logout', undefined, u.access)).status, 401);
  assert.equal((await sys.http('POST', '/api/auth/refresh', { refresh_token: u.refresh })).status, 401);
  // The logged-out token cannot open a new socket either.
  await assert.rejects(TestClient.connect(`${sys.wsUrl}?access_token=${u.access}`), /HTTP 401/);
  assert.equal((await bystander.request({ op: 'ping' })).type, 'pong');
});

test('logout without a valid access token is 401', async () => {
  assert.equal((await sys.http('POST', '/api/auth/logout')).status, 401);
  assert.equal((await sys.http('POST', '/api/auth/logout', undefined, 'not-a-jwt')).status, 401);
});

test('logout reaches a gateway running as a separate process', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'gateway'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      REDIS_URL: sys.config.redisUrl,
      JWT_SECRET: TEST_JWT_SECRET,
      HOST: '127.0.0.1',
      PORT: '0',
      INGEST_BIND: sys.config.ingestBind,
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await withTimeout(exited, 10_000, 'the child gateway to exit').catch((err: Error) => {
      console.error(err.message, '- killing it');
      child.kill('SIGKILL');
    });
  });
  let out = '';
  let errOut = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (errOut += b.toString()));
  const port = await until('the child gateway to listen', () => {
    const m = /"port":(\d+)[^\n]*"msg":"gateway listening"/.exec(out);
    if (child.exitCode !== null) throw new Error(`child gateway exited: ${errOut}`);
    return m ? Number(m[1]) : undefined;
  }, 20_000);
  await until('the child gateway to be ready', async () => {
    const r = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2_000) });
    return r.status === 200;
  }, 10_000, 50);

  const u = await sys.user();
  const c = await TestClient.connect(`ws://127.0.0.1:${port}/ws?access_token=${u.access}`);
  const welcome = await c.nextOfType('welcome');
  assert.equal(welcome.worker, String(child.pid), 'the socket is held by the child process');
  const closed = closeOf(c);
  assert.equal((await sys.http('POST', '/api/auth/logout', undefined, u.access, 0)).status, 204);
  assert.equal((await closed).code, 4003);
});

test('POST /api/subscriptions subscribes every socket of the session on every gateway and counts them', async () => {
  const T = 700_001;
  const u = await sys.user();
  const mine = [await sys.connect(u.access, 0), await sys.connect(u.access, 0), await sys.connect(u.access, 1)];
  const other = await login(u.username, u.password);
  const bystander = await sys.connect(other.access, 1);

  const r = await sys.http('POST', '/api/subscriptions', { tokens: [T], mode: 'ltp' }, u.access, 1);
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { connections: 3 });
  for (const c of mine) {
    const ack = await c.nextOfType('subscribed');
    assert.deepEqual(ack.tokens, [T]);
    assert.equal(ack.mode, 'ltp');
    assert.deepEqual((await c.request({ op: 'list' })).tokens, { [T]: 'ltp' });
  }
  // Ticks follow on every socket (published until each gateway's feed subscription is live).
  await untilDemand(sys, T);
  let ltp = 1;
  await until('a tick on every socket of the session', async () => {
    await feed.send(JSON.stringify({ token: T, ltp: ltp++ }));
    return mine.every((c) => c.ticks(T).length > 0);
  }, 5_000, 50);
  assert.equal(bystander.inbox.filter((m) => m.type === 'subscribed' || m.type === 'tick').length, 0, 'other session untouched');

  const d = await sys.http('DELETE', '/api/subscriptions', { tokens: [T] }, u.access, 0);
  assert.equal(d.status, 200);
  assert.deepEqual(d.body, { connections: 3 });
  for (const c of mine) {
    assert.deepEqual((await c.nextOfType('unsubscribed')).tokens, [T]);
    assert.deepEqual((await c.request({ op: 'list' })).tokens, {});
  }
});

test('REST subscriptions count 0 when the session has no socket, and closed sockets are not counted', async () => {
  const u = await sys.user();
  assert.deepEqual((await sys.http('POST', '/api/subscriptions', { tokens: [1] }, u.access)).body, { connections: 0 });
  const c = await sys.connect(u.access, 1);
  assert.deepEqual((await sys.http('POST', '/api/subscriptions', { tokens: [1] }, u.access)).body, { connections: 1 });
  c.close();
  await c.waitClose();
  await until('the gateway to see the close', () => sys.gateways[1]!.registry.bySession.size === 0 || !sys.gateways[1]!.registry.bySession.has(claimsOf(u.access).sid));
  assert.deepEqual((await sys.http('POST', '/api/subscriptions', { tokens: [1] }, u.access)).body, { connections: 0 });
});

test('REST subscriptions refuse bad bodies with 400 and missing or bad tokens with 401', async () => {
  const u = await sys.user();
  const bad: unknown[] = [
    {}, { tokens: 'x' }, { tokens: [] }, { tokens: [0] }, { tokens: [1.5] }, { tokens: [4_294_967_296] }, { tokens: ['1'] },
    { tokens: [1], mode: 'fast' }, { tokens: new Array(sys.config.maxTokensPerSocket + 1).fill(0).map((_, i) => i + 1) },
    'not json', [1, 2],
  ];
  for (const b of bad) {
    const r = await sys.http('POST', '/api/subscriptions', b, u.access);
    assert.equal(r.status, 400, JSON.stringify(b).slice(0, 60));
    assert.equal(r.body.error.code, 'invalid_body');
  }
  assert.equal((await sys.http('DELETE', '/api/subscriptions', { tokens: 'x' }, u.access)).status, 400);
  assert.equal((await sys.http('POST', '/api/subscriptions', { tokens: [1] })).status, 401);
  assert.equal((await sys.http('DELETE', '/api/subscriptions', { tokens: [1] }, 'garbage')).status, 401);
  // 401 comes first, whatever the body.
  assert.equal((await sys.http('POST', '/api/subscriptions', 'not json')).status, 401);
});
