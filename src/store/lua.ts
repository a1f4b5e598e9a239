/**
 * A Lua script sent by its SHA1 (EVALSHA), so a hot path does not ship the script text and make
 * Redis hash it on every call; the first call after a Redis restart (NOSCRIPT) sends it once with
 * EVAL, which also loads it.
 */
import { createHash } from 'node:crypto';
import { ReplyError, type Redis } from 'ioredis';

export class LuaScript {
  private readonly sha: string;

  constructor(private readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  async run(redis: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof ReplyError) || !(err as Error).message.startsWith('NOSCRIPT')) throw err;
      return redis.eval(this.lua, keys.length, ...keys, ...args);
    }
  }
}
