/**
 * Failed-login throttle (LOGIN_LIMIT_PER_MIN = PER_PAIR,PER_IP), counted in Redis so every worker
 * shares the counts. Fixed 60 s windows that simply expire.
 *
 * What is refused, and what is only slowed (docs/security.md, "Login throttle"):
 * - failures of one (username, client IP) pair and failures from one client IP refuse further
 *   attempts of that pair / IP with 429 until the window ends;
 * - failures of a username from anywhere never refuse anything: once they pass PER_PAIR, every
 *   login of that username waits a bounded delay (at most LOGIN_SLOWDOWN_MAX_MS) before its
 *   password is checked. An attacker can slow alice's logins, never lock her out: her correct
 *   password from an address that has not failed always gets in.
 *
 * Only failures count, yet the limits hold under concurrency: an attempt reserves a unit on the
 * counters before the password is checked (one Lua script: refuse if the pair or the IP is at its
 * limit, else increment all three), and a successful login gives the units back. Checking first
 * and counting failures afterwards would let a burst of parallel guesses all pass the check.
 */
import type { Redis } from 'ioredis';
import { Keys } from '../store/keys.ts';

export const LOGIN_WINDOW_MS = 60_000;
/** The longest a login of a username under attack waits before its password is checked. */
export const LOGIN_SLOWDOWN_MAX_MS = 2_000;
/** Added per failure of the username beyond PER_PAIR, up to the maximum. */
export const LOGIN_SLOWDOWN_STEP_MS = 100;

// KEYS: pair counter, ip counter, username counter. ARGV: pair limit, ip limit, window ms.
// Returns {0, username failures before this attempt} when reserved, else {ms until the blocking
// window ends, 0}.
const RESERVE = `
for i = 1, 2 do
  local key = KEYS[i]
  local n = tonumber(redis.call('GET', key) or '0')
  if n >= tonumber(ARGV[i]) then
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then
      redis.call('PEXPIRE', key, ARGV[3])
      ttl = tonumber(ARGV[3])
    end
    return {math.max(ttl, 1), 0}
  end
end
local before = tonumber(redis.call('GET', KEYS[3]) or '0')
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, ARGV[3]) end
end
return {0, before}`;

// Gives back the units of a successful login; a window that ended meanwhile is left alone (a DECR
// on a missing key would create a counter without expiry).
const REFUND = `
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 and redis.call('DECR', key) <= 0 then redis.call('DEL', key) end
end
return 0`;

export type LoginGate = { ok: true; delayMs: number } | { ok: false; retryAfterS: number };

export interface LoginLimits { perUser: number; perIp: number }

/** The slowdown for a username that has failed `fails` times in the window (pure; see above). */
export function loginDelayMs(fails: number, perUser: number): number {
  if (fails < perUser) return 0;
  return Math.min(LOGIN_SLOWDOWN_MAX_MS, (fails - perUser + 1) * LOGIN_SLOWDOWN_STEP_MS);
}

export async function reserveLoginAttempt(redis: Redis, username: string, ip: string, limits: LoginLimits): Promise<LoginGate> {
  const r = (await redis.eval(
    RESERVE, 3, Keys.loginFailsPair(username, ip), Keys.loginFailsIp(ip), Keys.loginFailsUser(username),
    limits.perUser, limits.perIp, LOGIN_WINDOW_MS,
  )) as [number, number];
  const [wait, before] = [Number(r[0]), Number(r[1])];
  if (wait !== 0) return { ok: false, retryAfterS: Math.max(1, Math.ceil(wait / 1000)) };
  return { ok: true, delayMs: loginDelayMs(before, limits.perUser) };
}

export async function refundLoginAttempt(redis: Redis, username: string, ip: string): Promise<void> {
  await redis.eval(REFUND, 3, Keys.loginFailsPair(username, ip), Keys.loginFailsIp(ip), Keys.loginFailsUser(username));
}
