/**
 * The SDK keeps a socket open past its access token's lifetime: it refreshes before the expiry and
 * swaps the new token in with `auth` (ACCESS_TTL_S=3, so several lifetimes pass in the test).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { TickgateClient, type Session } from 'tickgate/client';
import { startSystem } from '../helpers/system.ts';

const sys = await startSystem({ after }, { env: { ACCESS_TTL_S: '3', REAUTH_LEAD_MS: '2000' } });

test('with a short access TTL the client refreshes and the socket never closes', async () => {
  const u = await sys.user();
  const c = new TickgateClient({ url: sys.baseUrl });
  after(() => c.close());
  const sessions: (Session | undefined)[] = [];
  const bad: string[] = [];
  c.on('session', (s) => sessions.push(s));
  c.on('closed', (e) => bad.push(`closed ${e.code}`));
  c.on('reconnecting', (e) => bad.push(`reconnecting after ${e.code}`));
  let connects = 0;
  c.on('connected', () => connects++);
  await c.login(u.username, u.password);
  const first = c.session!.accessExpiresAt;
  const welcome = await c.connect();
  await new Promise((r) => setTimeout(r, 8_000));
  assert.deepEqual(bad, []);
  assert.equal(connects, 1, 'one connection throughout');
  assert.equal(c.state, 'connected');
  assert.ok(sessions.length >= 3, `refreshed ${sessions.length - 1} times`);
  assert.ok(c.session!.accessExpiresAt > first + 4_000, 'the current token outlives the first by seconds');
  // The socket is the same one and still answers.
  assert.equal(c.welcome?.conn_id, welcome.conn_id);
  assert.deepEqual(await c.list(), {});
});

test('when the refresh is refused the socket closes with 4001 and the client does not reconnect', async () => {
  const u = await sys.user();
  const c = new TickgateClient({ url: sys.baseUrl });
  after(() => c.close());
  await c.login(u.username, u.password);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => c.on('closed', resolve));
  let reconnects = 0;
  c.on('reconnecting', () => reconnects++);
  await c.connect();
  // Rotate the client's refresh token behind its back: when the client refreshes (past the grace
  // period) its copy is a reused token, which revokes the session.
  const r1 = await sys.http('POST', '/api/auth/refresh', { refresh_token: c.session!.refreshToken });
  assert.equal(r1.status, 200);
  const { code } = await closed;
  assert.ok(code === 4001 || code === 4003, `closed with ${code}`);
  assert.equal(reconnects, 0);
  assert.equal(c.state, 'closed');
});

test('two clients sharing one session (as two CLI processes share the session file) both stay connected across refreshes', async () => {
  const u = await sys.user();
  let shared: Session | undefined;
  // An in-process mutex standing in for the CLI's lock file.
  let lock: Promise<unknown> = Promise.resolve();
  const problems: string[] = [];
  const make = (session?: Session) => {
    const c = new TickgateClient({ url: sys.baseUrl, session, sharedSession: () => shared, refreshLock: (critical) => (lock = lock.then(critical, critical)) as never });
    after(() => c.close());
    c.on('session', (s) => {
      if (s) shared = s;
    });
    c.on('closed', (e) => problems.push(`closed ${e.code}`));
    c.on('reconnecting', (e) => problems.push(`reconnecting after ${e.code}`));
    return c;
  };
  const a = make();
  await a.login(u.username, u.password);
  // b starts from the same saved pair, as a second process reading the session file would.
  const b = make(shared);
  await Promise.all([a.connect(), b.connect()]);
  await new Promise((r) => setTimeout(r, 8_000));
  assert.deepEqual(problems, []);
  assert.equal(a.state, 'connected');
  assert.equal(b.state, 'connected');
  const me = await sys.http('GET', '/api/me', undefined, shared!.accessToken);
  assert.equal(me.status, 200, 'the session was never revoked');
});
