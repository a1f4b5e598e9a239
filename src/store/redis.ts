/**
 * Redis clients. Commands fail fast instead of queueing while Redis is away (no offline queue, a
 * command timeout), so HTTP requests answer 503 promptly and the tick path never waits on Redis;
 * the client keeps reconnecting in the background and recovers by itself.
 *
 * A command that fails because Redis could not be reached rejects with `RedisUnavailableError`;
 * a command Redis itself refused rejects with ioredis's `ReplyError`, unchanged.
 */
import { Redis, ReplyError, type Command, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

export const REDIS_COMMAND_TIMEOUT_MS = 1_000;

/**
 * A Redis command failed without an answer from Redis: no connection (and no offline queue), the
 * command timed out, or the connection closed or hit the retry limit before the reply. `cause` is
 * ioredis's own error. Callers answer `unavailable` (503), never 500.
 */
export class RedisUnavailableError extends Error {
  readonly code = 'REDIS_UNAVAILABLE';
  constructor(cause: unknown) {
    super(`redis unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'RedisUnavailableError';
  }
}

const classified = new WeakSet<Command>();

/**
 * Every command ioredis sends, alone, in a pipeline, in a MULTI or as an EVAL/EVALSHA, passes
 * through `Redis.prototype.sendCommand`, and every way it can fail ends in that command's own
 * `reject` (its timeout, the write attempt, a connection flush, the reply parser). Wrapping
 * `reject` there classifies the failure at its source: pipelines read each command's promise
 * directly, so wrapping what `sendCommand` returns would miss them.
 *
 * ioredis raises connection failures as plain `Error`s (or its `AbortError` subclasses, such as
 * `MaxRetriesPerRequestError`) and only a server reply as `ReplyError`, so "not a ReplyError" is
 * the class test. The exceptions are ioredis's usage errors (a non-subscriber command on a
 * subscriber connection, a reply transformer that throws): tickgate issues none.
 *
 * `duplicate()` and `monitor()` make plain `Redis` clients that do not classify: use
 * `connectRedis` for every client.
 */
class ClassifyingRedis extends Redis {
  override sendCommand(command: Command, stream?: Parameters<Redis['sendCommand']>[1]): unknown {
    // A command can pass through here more than once (offline queue flush, resend after a
    // reconnect, NOSCRIPT fallback); wrap its reject once.
    if (!classified.has(command)) {
      classified.add(command);
      const reject = command.reject;
      command.reject = (err: Error) => reject(err instanceof ReplyError ? err : new RedisUnavailableError(err));
    }
    return super.sendCommand(command, stream);
  }
}

export function connectRedis(url: string, log: Logger, name: string, extra: RedisOptions = {}): Redis {
  const opts: RedisOptions = {
    connectionName: `tickgate-${name}`,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(100 * times, 1_000),
    ...extra,
  };
  const redis = url.startsWith('/') ? new ClassifyingRedis({ ...opts, path: url }) : new ClassifyingRedis(url, opts);
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down) log.warn({ err }, 'redis unavailable; retrying in the background');
    down = true;
  });
  redis.on('ready', () => {
    if (down) log.info('redis connection restored');
    down = false;
  });
  return redis;
}

/** Resolves once the client is ready, or rejects after `timeoutMs`. */
export function waitReady(redis: Redis, timeoutMs = 10_000): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`redis not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}

/**
 * Whether a command failed because Redis is unreachable rather than for a reason of its own: those
 * become 503s, never 500s. Only errors of clients made by `connectRedis` are recognised.
 */
export function isRedisUnavailable(err: unknown): boolean {
  return err instanceof RedisUnavailableError;
}
