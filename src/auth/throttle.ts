/**
 * Failed-login throttle (LOGIN_LIMIT_PER_MIN): per username and per client IP, counted in Redis so
 * every worker shares the counts. Fixed 60 s windows that simply expire: there is no permanent
 * lockout, and an attacker cannot lock a user out for longer than a window at a time.
 *
 * Only failures count, yet the limit also holds under concurrency: an attempt reserves a unit on
 * both counters before the password is checked (one Lua script: refuse if either is at its limit,
 * else increment both), and a successful login gives the units back. Checking first and counting
 * failures afterwards would let a burst of parallel guesses all pass the check.
 */
import type { Redis } from 'ioredis';
import { Keys } from '../store/keys.ts';

export const LOGIN_WINDOW_MS = 60_000;

// KEYS: user counter, ip counter. ARGV: user limit, ip limit, window ms.
// Returns 0 when reserved, else the milliseconds until the blocking window ends.
const RESERVE = `
for i, key in ipairs(KEYS) do
  local n = tonumber(redis.call('GET', key) or '0')
  if n >= tonumber(ARGV[i]) then
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then
      redis.call('PEXPIRE', key, ARGV[3])
      ttl = tonumber(ARGV[3])
    end
    return math.max(ttl, 1)
  end
end
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, ARGV[3]) end
end
return 0`;

// Gives back the units of a successful login; a window that ended meanwhile is left alone (a DECR
// on a missing key would create a counter without expiry).
const REFUND = `
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 and redis.call('DECR', key) <= 0 then redis.call('DEL', key) end
end
return 0`;

export type LoginGate = { ok: true } | { ok: false; retryAfterS: number };

export async function reserveLoginAttempt(
  redis: Redis, username: string, ip: string, limits: { perUser: number; perIp: number },
): Promise<LoginGate> {
  const wait = await redis.eval(RESERVE, 2, Keys.loginFailsUser(username), Keys.loginFailsIp(ip), limits.perUser, limits.perIp, LOGIN_WINDOW_MS);
  return wait === 0 ? { ok: true } : { ok: false, retryAfterS: Math.max(1, Math.ceil(Number(wait) / 1000)) };
}

export async function refundLoginAttempt(redis: Redis, username: string, ip: string): Promise<void> {
  await redis.eval(REFUND, 2, Keys.loginFailsUser(username), Keys.loginFailsIp(ip));
}
