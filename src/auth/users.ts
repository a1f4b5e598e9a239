/** Users in Redis: one hash per username, plus an id → username index. */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { Keys } from '../store/keys.ts';

// Re-exported for gateway code that still imports it from here; the rule lives in protocol/.

export interface User { id: string; username: string }

// Creates the user only if the username is free, in one atomic step.
const CREATE_USER = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'username', ARGV[2], 'pw', ARGV[3], 'created', ARGV[4])
redis.call('SET', KEYS[2], ARGV[2])
return 1`;

export async function createUser(redis: Redis, username: string, pwHash: string): Promise<User | 'taken'> {
  const id = randomUUID();
  const created = await redis.eval(CREATE_USER, 2, Keys.user(username), Keys.userById(id), id, username, pwHash, Date.now());
  return created === 1 ? { id, username } : 'taken';
}

export async function findUser(redis: Redis, username: string): Promise<(User & { pwHash: string }) | undefined> {
  const [id, pw] = await redis.hmget(Keys.user(username), 'id', 'pw');
  return id && pw ? { id, username, pwHash: pw } : undefined;
}

export async function userExists(redis: Redis, username: string): Promise<boolean> {
  return (await redis.exists(Keys.user(username))) === 1;
}
