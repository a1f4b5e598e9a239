/**
 * Checks that come before authentication: the Origin allowlist of the WebSocket upgrade, the
 * upgrade attempt window (counted in upgrade-gates.ts) and the registration rate per IP.
 */
import type { Redis } from 'ioredis';
import { Keys } from '../store/keys.ts';

export const CONN_WINDOW_MS = 10_000;

function originOf(value: string): string | undefined {
  try {
    const u = new URL(value);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : undefined;
  } catch {
    return undefined; // not a URL, e.g. the opaque origin "null": matches nothing
  }
}

/**
 * Cross-site WebSocket hijacking guard. A browser always sends `Origin`; other clients may not,
 * and are not refused for that (the access token still gates them). With ALLOWED_ORIGINS set the
 * origin must be one of them; unset, its host[:port] must equal the request's Host header.
 */
export function originAllowed(origin: string, host: string, allowed: readonly string[] | undefined): boolean {
  if (origin === '') return true;
  const o = originOf(origin);
  if (o === undefined) return false;
  if (allowed !== undefined && allowed.length > 0) return allowed.some((a) => originOf(a) === o);
  return host !== '' && new URL(o).host === host.toLowerCase();
}

/**
 * Lua: counts one attempt on the fixed-window counter KEYS[1] (window ARGV[2] ms, started by the
 * first attempt), leaving `n` (attempts in the window) and `ttl` (ms until it ends). Shared by the
 * registration check below and the upgrade's IP gate (upgrade-gates.ts).
 */
export const COUNT_ATTEMPT_LUA = `
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end`;

// KEYS[1] the IP's counter. ARGV: limit, window ms. 0 allowed, else ms until the window ends.
const ATTEMPT = `${COUNT_ATTEMPT_LUA}
if n > tonumber(ARGV[1]) then return math.max(ttl, 1) end
return 0`;

export const REGISTER_WINDOW_MS = 60_000;

/**
 * Counts one registration attempt from `ip` in the current minute (all workers). Resolves 0 when
 * allowed, else the seconds to wait. Every attempt counts, taken or not, so the 409 cannot be used
 * to enumerate usernames faster than the limit.
 */
export async function registrationAttempt(redis: Redis, ip: string, limit: number): Promise<number> {
  const wait = Number(await redis.eval(ATTEMPT, 1, Keys.registrationsIp(ip), limit, REGISTER_WINDOW_MS));
  return wait === 0 ? 0 : Math.max(1, Math.ceil(wait / 1000));
}
