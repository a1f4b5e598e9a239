/**
 * Redis failures are classified where the client is made (store/redis.ts), by error class: a
 * command that got no answer from Redis is `unavailable` (503), whatever path it took (alone, in
 * a pipeline, in a MULTI, as a script); a command Redis refused is not. Real redis-server, no mocks.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { ReplyError, type Redis } from 'ioredis';
import { createLogger } from '../../src/log.ts';
import { connectRedis, isRedisUnavailable, REDIS_COMMAND_TIMEOUT_MS, RedisUnavailableError, waitReady } from '../../src/store/redis.ts';
import { startTestRedis } from '../helpers/redis.ts';
import { until } from '../helpers/wait.ts';

const log = createLogger('silent', 'test');
const INCR_A_STRING = "return redis.call('INCR', KEYS[1])";

async function connected(t: TestContext) {
  const server = await startTestRedis(t);
  const redis = connectRedis(server.url, log, 'test');
  t.after(() => redis.disconnect());
  await waitReady(redis);
  return { server, redis };
}

function unavailable(err: unknown): true {
  assert.ok(isRedisUnavailable(err), `expected "unavailable", got ${String(err)}`);
  assert.ok(err instanceof RedisUnavailableError);
  assert.equal(err.code, 'REDIS_UNAVAILABLE');
  assert.ok(err.cause instanceof Error, 'the error of ioredis is kept as the cause');
  return true;
}

function refusedByRedis(err: unknown): true {
  assert.ok(err instanceof ReplyError, `expected a ReplyError, got ${String(err)}`);
  assert.equal(isRedisUnavailable(err), false);
  return true;
}

/**
 * Every path a command can take: alone, in a pipeline, in a MULTI, as a script. Run together, so a
 * hung Redis costs one command timeout rather than one per path.
 */
async function assertEveryPath(redis: Redis, key: string, check: (err: unknown) => true): Promise<void> {
  const refused = check === refusedByRedis;
  await Promise.all([
    assert.rejects(redis.incr(key), check),
    // A pipeline resolves even when its commands fail: each result carries its own error.
    redis.pipeline().incr(key).get(key).exec().then((results) => {
      assert.equal(results?.length, 2);
      if (refused) check(results![0]![0]);
      else for (const [err] of results!) check(err);
    }),
    // Inside MULTI a refused command is that command's result and EXEC succeeds; without Redis,
    // EXEC itself fails.
    refused
      ? redis.multi().incr(key).exec().then((results) => check(results?.[0]?.[0]))
      : assert.rejects(redis.multi().incr(key).exec(), check),
    assert.rejects(redis.eval(INCR_A_STRING, 1, key), check),
  ]);
}

test('a command Redis refuses is a ReplyError, never "unavailable"', async (t) => {
  const { redis } = await connected(t);
  await redis.set('tg:test:text', 'not a number');
  await assertEveryPath(redis, 'tg:test:text', refusedByRedis);
  assert.equal(redis.status, 'ready', 'a refused command leaves the connection alone');
});

test('with Redis stopped, a command, a pipeline, a MULTI and a script are all "unavailable"', async (t) => {
  const { server, redis } = await connected(t);
  await server.stop();
  await until('the client to notice', () => redis.status !== 'ready', 5_000);
  await assertEveryPath(redis, 'tg:test:n', unavailable);
});

test('a Redis that stops answering makes commands time out as "unavailable"', async (t) => {
  const { server, redis } = await connected(t);
  server.child.kill('SIGSTOP');
  try {
    await assertEveryPath(redis, 'tg:test:n', unavailable);
  } finally {
    server.child.kill('SIGCONT');
  }
});

test('a command in flight when the connection drops is "unavailable"', async (t) => {
  const { server, redis } = await connected(t);
  server.child.kill('SIGSTOP'); // the command is written but gets no reply...
  const t0 = performance.now();
  const inFlight = assertEveryPath(redis, 'tg:test:n', unavailable);
  await new Promise((r) => setTimeout(r, 50));
  await server.kill9(); // ...then the connection closes
  await inFlight;
  assert.ok(performance.now() - t0 < REDIS_COMMAND_TIMEOUT_MS, 'failed on the close, not by the command timeout');
});
