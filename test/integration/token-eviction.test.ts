/**
 * Forgetting tokens (TOKEN_FORGET_S) end to end: a real redis-server, the ingester and a gateway
 * in this process, a feed published by the test. TOKEN_FORGET_S is 2 s here, so every wait below
 * is bounded by a few times that.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { runCtl } from '../../src/ctl/ctl.ts';
import { Ingester } from '../../src/ingester/ingester.ts';
import { createLogger } from '../../src/log.ts';
import { Keys } from '../../src/store/keys.ts';
import { connectRedis, waitReady } from '../../src/store/redis.ts';
import { controlClient, startCountingFeed } from '../helpers/control.ts';
import { startSystem, untilDemand } from '../helpers/system.ts';
import { until } from '../helpers/wait.ts';
import type { Msg } from '../helpers/ws-client.ts';

const FORGET_MS = 2_000;
/**
 * Teardown of the ingesters the restart tests start. Registered before the system's own, so it
 * runs first (node:test runs `after` hooks in order), while Redis is still up.
 */
const restarted: (() => unknown)[] = [];
after(async () => {
  for (const step of restarted.reverse()) await step();
});
const sys = await startSystem({ after }, { env: { TOKEN_FORGET_S: String(FORGET_MS / 1_000), STALE_MS: '300' } });
const feed = await startCountingFeed({ after }, sys.feedEndpoint);
const ctl = controlClient({ after }, sys.config.controlBind);
const user = await sys.user();
/** The ingester in charge; the restart test replaces it. */
let ingester = sys.ingester;

const GONE = 710_001;
const PAUSED = 710_002;
const WATCHED = 710_003;
const FRESH = 710_004;

const liveTick = (token: number, ltp: number) => (m: Msg) => m.type === 'tick' && m.token === token && m.ltp === ltp && !m.snapshot;
/**
 * A first tick after a subscribe: live, or the join's snapshot when the worker's cold read of the
 * newest value found that very tick already persisted in Redis.
 */
const firstTick = (token: number, ltp: number) => (m: Msg) => m.type === 'tick' && m.token === token && m.ltp === ltp;

/** `ctl status --json`, the operator's view. */
async function statusTokens(): Promise<number> {
  const lines: string[] = [];
  const code = await runCtl(['status', '--json'], sys.config.controlBind, { out: (l) => lines.push(l), err: (l) => lines.push(l) });
  assert.equal(code, 0, lines.join('\n'));
  return (JSON.parse(lines.join('\n')) as { tokens: number }).tokens;
}

async function listed(token: number): Promise<boolean> {
  const r = await sys.http('GET', '/api/instruments');
  assert.equal(r.status, 200);
  return (r.body as { token: number }[]).some((i) => i.token === token);
}

/** Every Redis entry the ingester keeps for `token`. */
async function redisEntries(token: number) {
  const t = String(token);
  const r = sys.redis;
  return {
    last: await r.hexists(Keys.lastTicks, t), held: await r.hexists(Keys.heldTicks, t), stale: await r.sismember(Keys.staleTokens, t),
    seen: await r.hexists(Keys.lastSeen, t), history: await r.exists(Keys.history(token)),
  };
}

const lastSeq = async (token: number) => (JSON.parse((await sys.redis.hget(Keys.lastTicks, String(token)))!) as { seq: number }).seq;

test('a token unseen for TOKEN_FORGET_S is forgotten everywhere; one paused by name or watched is kept', async () => {
  const c = await sys.connect(user.access);
  await ctl.send({ cmd: 'pause', tokens: [PAUSED] });
  // A watcher of GONE that leaves again: the gateway must not keep anything for it afterwards.
  assert.equal((await c.request({ op: 'subscribe', tokens: [GONE, WATCHED], mode: 'ltp' })).type, 'subscribed');
  await untilDemand({ ingester }, GONE);
  await untilDemand({ ingester }, WATCHED);
  for (let i = 0; i < 3; i++) await c.next(liveTick(GONE, await feed.tick(GONE)), 5_000, `tick ${i + 1} of GONE`);
  await c.next(liveTick(WATCHED, await feed.tick(WATCHED)), 5_000, 'the tick of WATCHED');
  await feed.tick(PAUSED); // held, not published
  assert.equal((await c.request({ op: 'unsubscribe', tokens: [GONE] })).type, 'unsubscribed');
  await untilDemand({ ingester }, GONE, false);
  assert.equal(sys.gateways[0]!.ctx.link.stream(GONE), undefined, 'no stream kept for a token nobody on this worker wants');

  await until('GONE in Redis: newest tick, three history entries, its sighting', async () => {
    const e = await redisEntries(GONE);
    return e.last === 1 && e.seen === 1 && (await sys.redis.xlen(Keys.history(GONE))) === 3;
  });
  assert.equal(await lastSeq(GONE), 3);
  await until('PAUSED held in Redis', async () => (await redisEntries(PAUSED)).held === 1);
  await until('GONE reported stale', async () => (await redisEntries(GONE)).stale === 1);
  const before = await statusTokens();
  assert.equal(before, 3);
  assert.ok(await listed(GONE));

  await until('GONE forgotten in Redis', async () => (await redisEntries(GONE)).last === 0, 4 * FORGET_MS);
  assert.deepEqual(await redisEntries(GONE), { last: 0, held: 0, stale: 0, seen: 0, history: 0 });
  assert.equal(Number(await sys.redis.get(Keys.seqFloor)), 3, 'the floor is its last seq');
  assert.equal(await statusTokens(), before - 1);
  await until('/api/instruments to drop GONE', async () => !(await listed(GONE)));

  // Both others are older than TOKEN_FORGET_S by now and still there.
  assert.equal((await redisEntries(PAUSED)).held, 1, 'the paused token keeps its held value');
  assert.equal((await redisEntries(WATCHED)).last, 1, 'the watched token keeps its newest tick');
  assert.ok(await listed(WATCHED));
  await ctl.send({ cmd: 'resume', tokens: [PAUSED] });
  c.ws.terminate();
  await untilDemand({ ingester }, WATCHED, false);
});

test('a forgotten token that returns continues above every seq it had; a client resuming from an old seq gets a gap', async () => {
  const floor = Number(await sys.redis.get(Keys.seqFloor));
  assert.ok(floor >= 3);
  assert.equal((await redisEntries(GONE)).last, 0, 'the first test forgot GONE');
  const c = await sys.connect(user.access);
  const epoch = (await c.request({ op: 'subscribe', tokens: [FRESH], mode: 'ltp' })).epoch as string;
  // A client that saw seq 2 of GONE before it was forgotten resumes under the same epoch.
  const ack = await c.request({ op: 'subscribe', tokens: [GONE], mode: 'ltp', since: { [GONE]: 2 }, epoch });
  assert.equal(ack.type, 'subscribed');
  assert.deepEqual(ack.gaps, [GONE], 'history cannot cover it: a gap, not a replay');
  await untilDemand({ ingester }, GONE);
  await untilDemand({ ingester }, FRESH);

  const back = await c.next(liveTick(GONE, await feed.tick(GONE)), 5_000, 'the returning tick of GONE');
  assert.equal(back.seq, floor + 1, 'above the floor, so no seq of its earlier life is named twice');
  const next = await c.next(liveTick(GONE, await feed.tick(GONE)), 5_000, 'the next tick of GONE');
  assert.equal(next.seq, floor + 2, 'then one by one');
  const fresh = await c.next(firstTick(FRESH, await feed.tick(FRESH)), 15_000, 'the first tick of FRESH');
  assert.equal(fresh.seq, floor + 1, 'every token new to the books starts after the floor');
  c.ws.terminate();
});

/** Stops the ingester cleanly, runs `meanwhile`, and starts a new one on the same Redis and endpoints. */
async function restartIngester(meanwhile: () => Promise<void> = async () => {}) {
  await ingester.close();
  await meanwhile();
  const subscribed = feed.subscribes;
  const log = createLogger(sys.config.logLevel, 'ingester-restarted');
  const redis = connectRedis(sys.redisServer.url, log, 'ingester-restarted');
  await waitReady(redis);
  restarted.push(() => redis.disconnect());
  const ing = await Ingester.start(sys.config, redis, log);
  restarted.push(() => ing.close());
  ingester = ing;
  await feed.untilSubscribed(subscribed + 1);
}

// These two replace the ingester (each restart keeps the previous one's state in Redis).
test('the seq floor survives a clean restart', async () => {
  await until('every token forgotten', async () => (await statusTokens()) === 0, 4 * FORGET_MS);
  const floor = Number(await sys.redis.get(Keys.seqFloor));
  assert.ok(floor > 3, `floor ${floor}: the tokens of the test above raised it`);
  await restartIngester();
  assert.equal(await statusTokens(), 0);
  const c = await sys.connect(user.access);
  const N = 710_006;
  await c.request({ op: 'subscribe', tokens: [N], mode: 'ltp' });
  await untilDemand({ ingester }, N);
  const first = await c.next(firstTick(N, await feed.tick(N)), 15_000, 'the first tick of N');
  assert.equal(first.seq, floor + 1, 'counted from the saved floor (from 1 it would reuse seqs of forgotten tokens)');
  c.ws.terminate();
});

test('after a restart a token counts from its last sighting, not from the start', async () => {
  const c = await sys.connect(user.access);
  const R = 710_005;
  await c.request({ op: 'subscribe', tokens: [R], mode: 'ltp' });
  await untilDemand({ ingester }, R);
  await c.next(liveTick(R, await feed.tick(R)), 5_000, 'the tick of R');
  c.ws.terminate();
  await untilDemand({ ingester }, R, false);
  await until('R\'s sighting recorded', async () => (await redisEntries(R)).seen === 1);
  const seenAt = Number(await sys.redis.hget(Keys.lastSeen, String(R)));

  let startedAt = 0;
  await restartIngester(async () => {
    assert.equal((await redisEntries(R)).last, 1, 'a clean stop leaves R known');
    // Down for longer than TOKEN_FORGET_S: counted from its sighting, R is due as soon as it starts.
    await until('TOKEN_FORGET_S to pass since R was seen', () => Date.now() > seenAt + FORGET_MS, 3 * FORGET_MS, 50);
    startedAt = Date.now();
  });
  await until('R forgotten after the restart', async () => (await redisEntries(R)).last === 0, 4 * FORGET_MS);
  const took = Date.now() - startedAt;
  // Counted from the start it could not go before FORGET_MS; the first walk (FORGET_MS / 4 at
  // most, plus one scan) finds it due.
  assert.ok(took < FORGET_MS, `forgotten ${took} ms after the start`);
});
