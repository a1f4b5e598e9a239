/**
 * The control plane (§4) end to end: a REQ client → the ingester's REP socket → status events on
 * token topics and operator broadcasts → gateway workers → WebSocket clients. Real ZeroMQ, real
 * Redis, two gateway workers; the feed is published by the test.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCtl } from '../../src/ctl/ctl.ts';
import { Ingester } from '../../src/ingester/ingester.ts';
import { createLogger } from '../../src/log.ts';
import { Keys } from '../../src/store/keys.ts';
import { connectRedis, waitReady } from '../../src/store/redis.ts';
import { controlClient, startCountingFeed } from '../helpers/control.ts';
import { startSystem, startTestFeed, untilDemand } from '../helpers/system.ts';
import { until, withTimeout } from '../helpers/wait.ts';
import type { Msg, TestClient } from '../helpers/ws-client.ts';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const sys = await startSystem({ after }, { gateways: 2 });
const feed = await startCountingFeed({ after }, sys.feedEndpoint);
const ctl = controlClient({ after }, sys.config.controlBind);
/** The ingester in charge; the restart test replaces it. */
let ingester = sys.ingester;
/**
 * Users are registered up front. The bundled uWebSockets.js (20.30) can drop a freshly upgraded
 * socket without a close frame when the upgrade is corked after an await (uNetworking/uWebSockets
 * PR #1929); it shows up mostly when the upgrade closely follows an HTTP request. Keeping the
 * HTTP traffic away from the connects keeps these tests about the control plane.
 */
const USER_ROLES = ['pause', 'newSub', 'all', 'demand', 'alice', 'bob', 'announce', 'carol', 'dave', 'restart'] as const;
const users = {} as Record<(typeof USER_ROLES)[number], Awaited<ReturnType<typeof sys.user>>>;
for (const role of USER_ROLES) users[role] = await sys.user();

const isTick = (token: number) => (m: Msg) => m.type === 'tick' && m.token === token;
const liveTick = (token: number) => (m: Msg) => m.type === 'tick' && m.token === token && !m.snapshot;
const status = (state: string, token: number) => (m: Msg) => m.type === 'status' && m.state === state && m.tokens?.includes(token);

/** Subscribes, waits until the ingester sees the demand, publishes one tick per token and waits for it. */
async function subscribed(c: TestClient, tokens: number[], mode = 'ltp') {
  const ack = await c.request({ op: 'subscribe', tokens, mode });
  assert.equal(ack.type, 'subscribed');
  for (const t of tokens) await untilDemand({ ingester }, t);
  const last = new Map<number, Msg>();
  for (const t of tokens) {
    const ltp = await feed.tick(t);
    // A token's first tick may arrive as the join's snapshot rather than live: the worker's cold
    // read of the newest value can find that very tick in Redis when it was persisted first.
    last.set(t, await c.next((m) => m.type === 'tick' && m.token === t && m.ltp === ltp, 5_000, `the first tick of ${t}`));
  }
  return last;
}

async function instrumentState(token: number): Promise<string | undefined> {
  const r = await sys.http('GET', '/api/instruments');
  assert.equal(r.status, 200);
  return (r.body as { token: number; state: string }[]).find((i) => i.token === token)?.state;
}

test('pausing one of two tokens stops its ticks with status paused while the other flows; resume sends live, the newest value as a snapshot, then live ticks', async () => {
  const A = 700_001;
  const B = 700_002;
  const u = users.pause;
  const c = await sys.connect(u.access);
  const first = await subscribed(c, [A, B]);
  const seqA = first.get(A)!.seq as number;

  assert.deepEqual(await ctl.send({ cmd: 'pause', tokens: [A] }), { ok: true, paused: [A] });
  const paused = await c.next(status('paused', A), 1_000, 'status paused within 1 s');
  assert.deepEqual(paused, { type: 'status', tokens: [A], state: 'paused' });
  const pausedAt = c.inbox.indexOf(paused);

  await feed.tick(A, 11);
  await feed.tick(A, 12);
  const b = await feed.tick(B);
  // Both A ticks entered the ingester before the B tick; had they been published they would be here first.
  await c.next((m) => liveTick(B)(m) && m.ltp === b);
  assert.deepEqual(c.inbox.slice(pausedAt).filter(isTick(A)), [], 'no tick of a paused token reaches the client');
  const st = await ctl.send({ cmd: 'status' });
  assert.deepEqual(st.paused, [A]);
  await until('the paused state in /api/instruments', async () => (await instrumentState(A)) === 'paused');
  assert.equal(await instrumentState(B), 'live');

  assert.deepEqual(await ctl.send({ cmd: 'resume', tokens: [A] }), { ok: true, paused: [] });
  const live = await c.next(status('live', A), 1_000, 'status live');
  assert.deepEqual(live, { type: 'status', tokens: [A], state: 'live' });
  // "At once": the very next message is the newest value, held during the pause, with the next seq.
  const snap = await c.next();
  assert.deepEqual(snap, { type: 'tick', token: A, seq: seqA + 1, ts: snap.ts, ltp: 12, snapshot: true });
  await feed.tick(A, 13);
  const next = await c.next(isTick(A));
  assert.equal(next.ltp, 13);
  assert.equal(next.seq, seqA + 2);
  assert.equal(next.snapshot, undefined);
});

test('a new subscriber to a paused token gets the ack, the snapshot of its last value, then status paused — on a worker that forwards it and on one that does not', async () => {
  const C = 700_011;
  const u = users.newSub;
  const c1 = await sys.connect(u.access, 0);
  const first = await subscribed(c1, [C]);
  const published = first.get(C)!;
  await until('the tick persisted to Redis', async () => (await sys.redis.hget(Keys.lastTicks, String(C))) !== null);
  await ctl.send({ cmd: 'pause', tokens: [C] });
  await c1.next(status('paused', C), 1_000);
  await feed.tick(C, 77); // held: not the value a new subscriber sees while paused
  await until('the held value persisted', async () => (await sys.redis.hget(Keys.heldTicks, String(C))) !== null);

  // Worker 0 forwards C and knows its state from the status it forwarded; worker 1 does not
  // forward C and reads snapshot and pause state from Redis.
  assert.equal(sys.gateways[0]!.ctx.link.tokenState(C), 'paused');
  assert.ok(!sys.gateways[1]!.ctx.link.subscribedTokens.includes(C));
  for (const gw of [0, 1]) {
    const c = await sys.connect(u.access, gw);
    const ack = await c.request({ op: 'subscribe', tokens: [C], mode: 'ltp', id: `sub-${gw}` });
    const snap = await c.next(isTick(C));
    const st = await c.next((m) => m.type === 'status');
    const i = c.inbox.indexOf(ack);
    assert.deepEqual(c.inbox.slice(i, i + 3), [ack, snap, st], `worker ${gw}: ack, snapshot, status in that order`);
    assert.deepEqual(snap, { type: 'tick', token: C, seq: published.seq, ts: published.ts, ltp: published.ltp, snapshot: true });
    assert.deepEqual(st, { type: 'status', tokens: [C], state: 'paused' });
  }

  await ctl.send({ cmd: 'resume', tokens: [C] });
  await c1.next(status('live', C), 1_000);
  const snap = await c1.next();
  assert.equal(snap.ltp, 77);
  assert.equal(snap.seq, published.seq + 1);
  assert.equal(snap.snapshot, true);
});

test('pause and resume of every feed: status "all", statuses for every subscribed token, held values on resume', async () => {
  const D = 700_021;
  const E = 700_022;
  const F = 700_023; // never published by the feed
  const u = users.all;
  const c = await sys.connect(u.access);
  await subscribed(c, [D, E]);
  await until('both workers counted', async () => (await ctl.send({ cmd: 'status' })).workers === 2);

  assert.deepEqual(await ctl.send({ cmd: 'pause' }), { ok: true, paused: 'all' });
  // One status per token, in no particular order between tokens.
  await until('status paused for D and E', () => [D, E].every((t) => c.inbox.some(status('paused', t))), 1_000);
  const st = await ctl.send({ cmd: 'status' });
  assert.equal(st.paused, 'all');
  assert.equal(st.workers, 2);
  assert.ok(typeof st.tokens === 'number' && st.tokens >= 2);

  const { ticksIn, ticksOut } = ingester.stats;
  await feed.tick(D, 41);
  await feed.tick(E, 51);
  await until('both ticks ingested', () => ingester.stats.ticksIn === ticksIn + 2);
  assert.equal(ingester.stats.ticksOut, ticksOut, 'nothing published while every feed is paused');

  // A token the feed never published is paused too for a new subscriber.
  const ackF = await c.request({ op: 'subscribe', tokens: [F], mode: 'ltp' });
  const stF = await c.next(status('paused', F));
  assert.equal(c.inbox.indexOf(stF), c.inbox.indexOf(ackF) + 1);

  assert.deepEqual(await ctl.send({ cmd: 'resume' }), { ok: true, paused: [] });
  await until('live and a snapshot for D and E', () => [D, E].every((t) => c.inbox.some((m) => isTick(t)(m) && m.snapshot)), 1_000);
  for (const [token, ltp] of [[D, 41], [E, 51]] as const) {
    const i = c.inbox.findIndex(status('live', token));
    assert.ok(i >= 0, `status live for ${token}`);
    const snap = c.inbox[i + 1]!;
    assert.deepEqual([snap.token, snap.ltp, snap.snapshot], [token, ltp, true], 'the newest value right after live');
  }
  await feed.tick(D, 42);
  assert.equal((await c.next(liveTick(D))).ltp, 42);
});

test('demand lists the tokens someone is subscribed to', async () => {
  const G = 700_031;
  const u = users.demand;
  const c = await sys.connect(u.access, 1);
  await c.request({ op: 'subscribe', tokens: [G] });
  await untilDemand({ ingester }, G);
  const r = await ctl.send({ cmd: 'demand' });
  assert.equal(r.ok, true);
  assert.ok((r.tokens as number[]).includes(G));
  assert.deepEqual(r.tokens, [...(r.tokens as number[])].sort((a, b) => a - b));
});

test('notify reaches every socket of the user on both workers and nobody else', async () => {
  const alice = users.alice;
  const bob = users.bob;
  const a0 = await sys.connect(alice.access, 0);
  const a1 = await sys.connect(alice.access, 1);
  const b0 = await sys.connect(bob.access, 0);
  assert.deepEqual(await ctl.send({ cmd: 'notify', user: alice.username, message: 'hello alice' }), { ok: true });
  for (const c of [a0, a1]) assert.deepEqual(await c.nextOfType('notice', 2_000), { type: 'notice', message: 'hello alice' });
  // Broadcasts reach a worker in order: bob's first notice being the later one proves he missed the first.
  await ctl.send({ cmd: 'notify', user: bob.username, message: 'hello bob' });
  assert.deepEqual(await b0.nextOfType('notice', 2_000), { type: 'notice', message: 'hello bob' });
  assert.equal(b0.inbox.filter((m) => m.type === 'notice').length, 1);
  assert.equal(a0.inbox.filter((m) => m.type === 'notice').length, 1);
});

test('announce reaches exactly the subscribers of the named tokens, once each', async () => {
  const [P, Q, R] = [700_041, 700_042, 700_043];
  const u = users.announce;
  const cp = await sys.connect(u.access, 0);
  const cq = await sys.connect(u.access, 1);
  const cpq = await sys.connect(u.access, 1);
  const cr = await sys.connect(u.access, 0);
  await cp.request({ op: 'subscribe', tokens: [P] });
  await cq.request({ op: 'subscribe', tokens: [Q], mode: 'full' });
  await cpq.request({ op: 'subscribe', tokens: [P, Q] });
  await cr.request({ op: 'subscribe', tokens: [R] });

  assert.deepEqual(await ctl.send({ cmd: 'announce', tokens: [P, Q], message: 'auction at 15:30' }), { ok: true });
  for (const c of [cp, cq, cpq]) {
    assert.deepEqual(await c.nextOfType('notice', 2_000), { type: 'notice', tokens: [P, Q], message: 'auction at 15:30' });
  }
  await ctl.send({ cmd: 'announce', tokens: [P, Q, R], message: 'barrier' });
  for (const c of [cp, cq, cpq, cr]) await c.next((m) => m.type === 'notice' && m.message === 'barrier', 2_000);
  const count = (c: TestClient) => c.inbox.filter((m) => m.type === 'notice' && m.message === 'auction at 15:30').length;
  assert.deepEqual([cp, cq, cpq, cr].map(count), [1, 1, 1, 0]);
});

test('disconnect closes every socket of the user on both workers with 1008 and leaves others open', async () => {
  const carol = users.carol;
  const dave = users.dave;
  const c0 = await sys.connect(carol.access, 0);
  const c1 = await sys.connect(carol.access, 1);
  const d0 = await sys.connect(dave.access, 0);
  assert.deepEqual(await ctl.send({ cmd: 'disconnect', user: carol.username }), { ok: true });
  for (const c of [c0, c1]) assert.equal((await c.waitClose(2_000)).code, 1008);
  assert.equal((await d0.request({ op: 'ping' })).type, 'pong');
});

test('disconnect with revoke closes the user\'s sockets with 1008 and ends every session: no reconnect, no refresh', async () => {
  const erin = await sys.user();
  const second = await sys.http('POST', '/api/auth/login', { username: erin.username, password: erin.password });
  assert.equal(second.status, 200);
  const c0 = await sys.connect(erin.access, 0);
  const c1 = await sys.connect(second.body.access_token, 1);
  const frank = await sys.user();
  const f0 = await sys.connect(frank.access, 0);
  assert.deepEqual(await ctl.send({ cmd: 'disconnect', user: erin.username, revoke: true }), { ok: true });
  // 1008 from the broadcast; a worker's periodic session check may get there first and close the
  // already-revoked session's socket 4003 (the sessions are ended before the broadcast is sent).
  for (const c of [c0, c1]) assert.ok([1008, 4003].includes((await c.waitClose(2_000)).code));
  for (const access of [erin.access, second.body.access_token]) {
    assert.equal((await sys.http('GET', '/api/me', undefined, access)).status, 401);
  }
  for (const refresh_token of [erin.refresh, second.body.refresh_token]) {
    assert.equal((await sys.http('POST', '/api/auth/refresh', { refresh_token })).status, 401);
  }
  // Others keep their sessions; the user may log in again (an operator who wants more blocks the account).
  assert.equal((await f0.request({ op: 'ping' })).type, 'pong');
  assert.equal((await sys.http('GET', '/api/me', undefined, frank.access)).status, 200);
  assert.equal((await sys.http('POST', '/api/auth/login', { username: erin.username, password: erin.password })).status, 200);
});

test('disconnect without revoke leaves the sessions valid (the client may reconnect)', async () => {
  const gina = await sys.user();
  const c = await sys.connect(gina.access, 0);
  assert.deepEqual(await ctl.send({ cmd: 'disconnect', user: gina.username, revoke: false }), { ok: true });
  assert.equal((await c.waitClose(2_000)).code, 1008);
  assert.equal((await sys.http('GET', '/api/me', undefined, gina.access)).status, 200);
});

test('malformed and unknown requests get ok:false and the socket keeps serving', async () => {
  for (const bad of ['nope', '[]', '{}', '{"cmd":"launch"}', '{"cmd":"pause","token":[1]}', '{"cmd":"pause","tokens":[]}',
    '{"cmd":"pause","tokens":[0]}', '{"cmd":"notify","user":"x","message":"hi"}', '{"cmd":"announce","tokens":[1]}']) {
    const r = JSON.parse(await ctl.raw(bad)) as Record<string, unknown>;
    assert.equal(r.ok, false, bad);
    assert.equal(typeof r.error, 'string');
  }
  const big = JSON.parse(await ctl.raw(JSON.stringify({ cmd: 'status', pad: 'x'.repeat(70 * 1024) })));
  assert.equal(big.ok, false);
  assert.match(big.error, /too large/);
  assert.equal((await ctl.send({ cmd: 'status' })).ok, true);
  assert.deepEqual((await ctl.send({ cmd: 'status' })).paused, []);
});

test('a token whose feed goes silent turns stale after STALE_MS and live again right before its next tick', async (t) => {
  const s = await startSystem(t, { env: { STALE_MS: '300' } });
  const f = await startTestFeed(t, s.feedEndpoint);
  const S = 700_051;
  const u = await s.user();
  const c = await s.connect(u.access);
  await c.request({ op: 'subscribe', tokens: [S], mode: 'ltp' });
  await untilDemand(s, S);
  await f.send(JSON.stringify({ token: S, ltp: 1 }));
  await c.next(liveTick(S));
  const tickAt = Date.now();
  const stale = await c.next(status('stale', S), 2_000, 'status stale');
  assert.deepEqual(stale, { type: 'status', tokens: [S], state: 'stale' });
  assert.ok(Date.now() - tickAt >= 250, `stale after about STALE_MS, not ${Date.now() - tickAt} ms`);
  const staleIn = async () => {
    const r = await s.http('GET', '/api/instruments');
    return (r.body as { token: number; state: string }[]).find((i) => i.token === S)?.state;
  };
  await until('stale in /api/instruments', async () => (await staleIn()) === 'stale');

  await f.send(JSON.stringify({ token: S, ltp: 2 }));
  const live = await c.next(status('live', S));
  const tick = await c.next();
  assert.deepEqual(live, { type: 'status', tokens: [S], state: 'live' });
  assert.equal(tick.type, 'tick');
  assert.equal(tick.ltp, 2);
  await until('live in /api/instruments', async () => (await staleIn()) === 'live', 2_000);
});

test('ctl prints a readable status, and against a stopped ingester exits non-zero with a readable message within its timeout', async () => {
  const run = (args: string[]) => new Promise<{ code: number | null; out: string; err: string; ms: number }>((resolve) => {
    const started = Date.now();
    const p = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'ctl', ...args], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('exit', (code) => resolve({ code, out, err, ms: Date.now() - started }));
  });
  const [ok, dead] = await withTimeout(Promise.all([
    run(['status', '--endpoint', sys.config.controlBind]),
    run(['status', '--endpoint', `ipc://${sys.dir}/nothing.sock`, '--timeout', '500']),
  ]), 20_000, 'the ctl processes to exit');
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.out, /^paused\s+none$/m);
  assert.match(ok.out, /^workers\s+2$/m);
  assert.notEqual(dead.code, 0);
  assert.equal(dead.code, 3);
  assert.match(dead.err, /no reply from the ingester at ipc:\/\/.*nothing\.sock within 500 ms/);
  assert.equal(dead.out, '');

  // The same in-process, where the timing is not blurred by starting node: the timeout bounds it.
  const lines: string[] = [];
  const started = Date.now();
  const code = await runCtl(['demand', '--endpoint', `ipc://${sys.dir}/nothing.sock`, '--timeout', '300'], sys.config.controlBind, {
    out: (l) => lines.push(l), err: (l) => lines.push(l),
  });
  const ms = Date.now() - started;
  assert.equal(code, 3);
  // Loose bounds: ZeroMQ times the receive on its own clock, so it may end a few ms early.
  assert.ok(ms >= 200 && ms < 1_000, `gave up after ${ms} ms`);
  assert.match(lines.join('\n'), /no reply/);
});

// Last: it replaces the ingester the other tests use.
test('pause survives an ingester restart; held values and seqs continue', async (t) => {
  const G = 700_061;
  const H = 700_062;
  const u = users.restart;
  const c = await sys.connect(u.access);
  const first = await subscribed(c, [G, H]);
  await ctl.send({ cmd: 'pause', tokens: [G] });
  await c.next(status('paused', G), 1_000);

  await ingester.close();
  const log = createLogger('silent', 'test');
  const redis = connectRedis(sys.redisServer.url, log, 'ingester-2');
  await waitReady(redis);
  t.after(() => redis.disconnect());
  ingester = await Ingester.start(sys.config, redis, log);
  const restarted = ingester;
  t.after(() => restarted.close());

  assert.deepEqual((await ctl.send({ cmd: 'status' })).paused, [G]);
  await feed.untilSubscribed(2);
  await untilDemand({ ingester }, G);
  await untilDemand({ ingester }, H);
  const before = c.inbox.length;
  await feed.tick(G, 91);
  const h = await feed.tick(H);
  const tickH = await c.next((m) => liveTick(H)(m) && m.ltp === h, 5_000);
  assert.equal(tickH.seq, first.get(H)!.seq + 1, 'seq continues across the restart');
  assert.deepEqual(c.inbox.slice(before).filter(isTick(G)), [], 'still paused after the restart');

  await ctl.send({ cmd: 'resume', tokens: [G] });
  await c.next(status('live', G), 1_000);
  const snap = await c.next();
  assert.deepEqual(snap, { type: 'tick', token: G, seq: first.get(G)!.seq + 1, ts: snap.ts, ltp: 91, snapshot: true });
});
