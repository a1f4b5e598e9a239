/** The HTTP API of the foundation: register, login, me, instruments, health. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSystem, startTestFeed, untilDemand } from '../helpers/system.ts';
import { until } from '../helpers/wait.ts';

const sys = await startSystem({ after });
const feed = await startTestFeed({ after }, sys.feedEndpoint);

test('register returns 201 {id, username}; the same username again is 409 username_taken', async () => {
  const r = await sys.http('POST', '/api/auth/register', { username: 'alice', password: 'correct-horse' });
  assert.equal(r.status, 201);
  assert.equal(r.body.username, 'alice');
  assert.match(r.body.id, /^[0-9a-f-]{36}$/);
  const again = await sys.http('POST', '/api/auth/register', { username: 'alice', password: 'another-password' });
  assert.equal(again.status, 409);
  assert.equal(again.body.error.code, 'username_taken');
});

test('register validates username and password', async () => {
  const bad = [
    { username: 'al', password: 'correct-horse' },
    { username: 'a'.repeat(33), password: 'correct-horse' },
    { username: 'bad name', password: 'correct-horse' },
    { username: 'émile', password: 'correct-horse' },
    { username: 'bob', password: 'short' },
    { username: 'bob', password: 'x'.repeat(73) },
    { username: 'bob', password: 'é'.repeat(37) }, // 74 bytes
    { username: 'bob' },
    { username: 5, password: 'correct-horse' },
    [],
  ];
  for (const body of bad) {
    const r = await sys.http('POST', '/api/auth/register', body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.body.error.code, 'invalid_body');
  }
  const notJson = await sys.http('POST', '/api/auth/register', '{oops');
  assert.equal(notJson.status, 400);
  assert.equal((await sys.http('POST', '/api/auth/register', { username: 'bob.ok-1', password: 'x'.repeat(72) })).status, 201);
});

test('login returns a Bearer pair; unknown user and wrong password are the same 401', async () => {
  await sys.http('POST', '/api/auth/register', { username: 'carol', password: 'correct-horse' });
  const ok = await sys.http('POST', '/api/auth/login', { username: 'carol', password: 'correct-horse' });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.token_type, 'Bearer');
  assert.equal(ok.body.expires_in, 900);
  assert.equal(ok.body.access_token.split('.').length, 3);
  assert.ok(ok.body.refresh_token.length >= 43);
  const wrong = await sys.http('POST', '/api/auth/login', { username: 'carol', password: 'wrong-horse' });
  const unknown = await sys.http('POST', '/api/auth/login', { username: 'nobody', password: 'wrong-horse' });
  assert.equal(wrong.status, 401);
  assert.deepEqual(wrong.body, unknown.body);
  assert.equal(unknown.status, 401);
  assert.equal(wrong.body.error.code, 'invalid_credentials');
});

test('GET /api/me needs a valid Bearer token', async () => {
  const u = await sys.user();
  const me = await sys.http('GET', '/api/me', undefined, u.access);
  assert.equal(me.status, 200);
  assert.equal(me.body.username, u.username);
  assert.equal((await sys.http('GET', '/api/me')).status, 401);
  assert.equal((await sys.http('GET', '/api/me', undefined, 'nope')).status, 401);
});

test('GET /api/instruments lists known tokens with their last value', async () => {
  const u = await sys.user();
  const c = await sys.connect(u.access);
  await c.request({ op: 'subscribe', tokens: [777] });
  await untilDemand(sys, 777);
  await feed.send(JSON.stringify({ token: 777, ltp: 12.5, ts: Date.now() }));
  await c.next((m) => m.type === 'tick');
  const list = await until('777 listed', async () => {
    const r = await sys.http('GET', '/api/instruments');
    return r.body.find((i: { token: number }) => i.token === 777);
  });
  assert.equal(list.ltp, 12.5);
  assert.equal(list.state, 'live');
  assert.deepEqual(Object.keys(list).sort(), ['ltp', 'state', 'token', 'ts']);
});

test('healthz and readyz', async () => {
  assert.deepEqual((await sys.http('GET', '/healthz')).body, { status: 'ok' });
  const r = await sys.http('GET', '/readyz');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { status: 'ready' });
});

test('unknown routes are coded 404s', async () => {
  const r = await sys.http('GET', '/api/nothing');
  assert.equal(r.status, 404);
  assert.equal(r.body.error.code, 'not_found');
});
