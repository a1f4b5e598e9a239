/**
 * Access-token expiry on an open socket (§6): `reauth` before expiry; an `auth` with a fresh token
 * of the same user keeps the socket open past the old expiry; without it the socket closes 4001.
 * Short lifetimes (ACCESS_TTL_S=3, REAUTH_LEAD_MS=2000) keep the test quick. JWT times are whole
 * seconds, so the socket's expiry is 2–3 s after login and `reauth` comes 2 s before it.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSystem } from '../helpers/system.ts';
import { claimsOf } from '../helpers/jwt.ts';
import { withTimeout } from '../helpers/wait.ts';

const sys = await startSystem({ after }, { env: { ACCESS_TTL_S: '3', REAUTH_LEAD_MS: '2000' } });

test('without auth the socket gets reauth, then closes with 4001 at the expiry', async () => {
  const u = await sys.user();
  const c = await sys.connect(u.access);
  const expiresAt = claimsOf(u.access).exp * 1000;
  const closed = withTimeout(c.closed.then((x) => ({ ...x, at: Date.now() })), 6_000, 'the 4001 close');
  const reauth = await c.nextOfType('reauth', 4_000);
  assert.equal(reauth.expires_at, expiresAt);
  const { code, at } = await closed;
  assert.equal(code, 4001);
  assert.ok(at >= expiresAt - 50, `closed ${expiresAt - at} ms before the expiry`);
});

test('auth with a refreshed token of the same session keeps the socket open past the old expiry', async () => {
  const u = await sys.user();
  const c = await sys.connect(u.access);
  const oldExpiry = claimsOf(u.access).exp * 1000;
  const closed = withTimeout(c.closed.then((x) => ({ ...x, at: Date.now() })), 9_000, 'the close at the new expiry');
  // reauth arrives at least one whole second after the login, so the refreshed token expires later.
  await c.nextOfType('reauth', 4_000);
  const r = await sys.http('POST', '/api/auth/refresh', { refresh_token: u.refresh });
  assert.equal(r.status, 200);
  const newExpiry = claimsOf(r.body.access_token).exp * 1000;
  assert.ok(newExpiry > oldExpiry);
  const ok = await c.request({ op: 'auth', access_token: r.body.access_token });
  assert.equal(ok.type, 'auth_ok');
  assert.equal(ok.expires_at, newExpiry);
  // A second reauth for the new token, after the old expiry would have closed it.
  const second = await c.nextOfType('reauth', 5_000);
  assert.equal(second.expires_at, newExpiry);
  const { code, at } = await closed;
  assert.equal(code, 4001, 'the new token expires in turn');
  assert.ok(at > oldExpiry + 500, `open ${at - oldExpiry} ms past the old expiry`);
  assert.ok(at >= newExpiry - 50);
});

test('auth with a token from a fresh login moves the socket to that session', async () => {
  const u = await sys.user();
  const c = await sys.connect(u.access);
  await c.nextOfType('reauth', 4_000);
  const login = await sys.http('POST', '/api/auth/login', { username: u.username, password: u.password });
  assert.equal(login.status, 200);
  const ok = await c.request({ op: 'auth', access_token: login.body.access_token });
  assert.equal(ok.type, 'auth_ok');
  const closed = withTimeout(c.closed, 5_000, 'the 4003 close');
  // Logging out the new session now closes the socket; the old one no longer owns it.
  assert.equal((await sys.http('POST', '/api/auth/logout', undefined, login.body.access_token)).status, 204);
  assert.equal((await closed).code, 4003);
});

test('auth with a token of another user is refused and the socket still closes 4001', async () => {
  const u = await sys.user();
  const v = await sys.user();
  const c = await sys.connect(u.access);
  const closed = withTimeout(c.closed, 6_000, 'the 4001 close');
  const err = await c.request({ op: 'auth', access_token: v.access });
  assert.equal(err.type, 'error');
  assert.equal(err.code, 'bad_request');
  assert.equal((await closed).code, 4001);
});
