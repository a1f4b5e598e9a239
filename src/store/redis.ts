/**
 * Redis clients. Commands fail fast instead of queueing while Redis is away (no offline queue, a
 * command timeout), so HTTP requests answer 503 promptly and the tick path never waits on Redis;
 * the client keeps reconnecting in the background and recovers by itself.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

export const REDIS_COMMAND_TIMEOUT_MS = 1_000;

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
  const redis = url.startsWith('/') ? new Redis({ ...opts, path: url }) : new Redis(url, opts);
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
 * Whether a command failed because Redis is unreachable (no offline queue, timeout, connection
 * closed) rather than for a reason of its own: those become 503s, never 500s.
 */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return /Stream isn't writeable|enableOfflineQueue|Command timed out|Connection is closed|ECONNREFUSED|MaxRetriesPerRequest|Reached the max retries/i
    .test(err.message);
}
