/**
 * The Redis side of a WebSocket upgrade, in two round trips (there were four):
 *
 * 1. before the token is looked at: count the attempt against CONN_RATE_PER_IP and take the IP's
 *    socket lease (MAX_CONNS_PER_IP), so neither limit can be lifted with free accounts and a
 *    refused IP costs no token work;
 * 2. after the JWT verified: check that its session still exists and belongs to the token's
 *    subject, and take the user's socket lease (MAX_SOCKETS_PER_USER) in the same script, so a
 *    revocation cannot fall between the check and the lease.
 *
 * Both are scripts (atomic across workers, like the separate steps they replace were) sent by SHA.
 * The gateway's Redis client pipelines commands issued in the same tick, so a storm of upgrades
 * shares writes and replies. Lease bookkeeping (renewal, release) stays in session-sockets.ts.
 */
import type { Redis } from 'ioredis';
import type { AccessClaims } from '../auth/tokens.ts';
import { Keys } from '../store/keys.ts';
import { LuaScript } from '../store/lua.ts';
import { CONN_WINDOW_MS, COUNT_ATTEMPT_LUA } from './limits.ts';
import { LEASE_TTL_MS } from './session-sockets.ts';

// KEYS: attempts counter, IP lease zset. ARGV: attempt limit, window ms, now, lease expiry, connId,
// IP limit, lease key ttl ms. → {0} admitted, {1, ms} rate limited for ms, {2} IP at its limit.
const IP_GATE = new LuaScript(`${COUNT_ATTEMPT_LUA}
if n > tonumber(ARGV[1]) then return {1, math.max(ttl, 1)} end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[6]) then return {2} end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[7])
return {0}`);

// KEYS: session hash, the user's lease zset. ARGV: token subject, now, lease expiry, connId, limit,
// lease key ttl ms. → {1, username} admitted, {0} no such session (or another user's), {2} full.
const SESSION_GATE = new LuaScript(`
local s = redis.call('HMGET', KEYS[1], 'uid', 'username')
if not s[1] or not s[2] or s[1] ~= ARGV[1] then return {0} end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) then return {2} end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
return {1, s[2]}`);

export type IpGate = { ok: true } | { ok: false; reason: 'rate'; retryAfterS: number } | { ok: false; reason: 'ip_full' };

/** Round trip 1. Throws if Redis is unavailable. */
export async function passIpGate(redis: Redis, ip: string, connId: string, limits: { connRatePerIp: number; maxConnsPerIp: number }): Promise<IpGate> {
  const now = Date.now();
  const r = (await IP_GATE.run(redis, [Keys.connAttemptsIp(ip), Keys.ipSockets(ip)], [
    limits.connRatePerIp, CONN_WINDOW_MS, now, now + LEASE_TTL_MS, connId, limits.maxConnsPerIp, LEASE_TTL_MS,
  ])) as [number, number?];
  if (r[0] === 0) return { ok: true };
  if (r[0] === 1) return { ok: false, reason: 'rate', retryAfterS: Math.max(1, Math.ceil(Number(r[1]) / 1000)) };
  return { ok: false, reason: 'ip_full' };
}

/** What round trip 2 found: the session (and the socket holds a user lease now), or why not. */
export type SessionGate = { full: false; userId: string; username: string; sid: string } | { full: true };

/**
 * Round trip 2: undefined when the session is gone or not the token subject's. Throws if Redis is
 * unavailable.
 */
export async function passSessionGate(redis: Redis, claims: AccessClaims, connId: string, maxPerUser: number): Promise<SessionGate | undefined> {
  const now = Date.now();
  const r = (await SESSION_GATE.run(redis, [Keys.session(claims.sid), Keys.userSockets(claims.sub)], [
    claims.sub, now, now + LEASE_TTL_MS, connId, maxPerUser, LEASE_TTL_MS,
  ])) as [number, string?];
  if (r[0] === 1) return { full: false, userId: claims.sub, username: String(r[1]), sid: claims.sid };
  if (r[0] === 2) return { full: true };
  return undefined;
}
