/**
 * Login sessions in Redis. A session holds the user and the hash of its current refresh token and
 * expires with it; deleting the key revokes the session everywhere (every access token carries the
 * `sid`, and the gateway checks the session on the upgrade and on `auth`).
 *
 * Refresh tokens are `<sid>.<43 chars of base64url>` (256 random bits). Only their SHA-256 is
 * stored, so a Redis dump does not hand out live credentials.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { Keys } from '../store/keys.ts';
import type { User } from './users.ts';

export interface Session { sid: string; userId: string; username: string }

const hashToken = (token: string) => createHash('sha256').update(token).digest('base64url');

function newRefreshToken(sid: string): string {
  return `${sid}.${randomBytes(32).toString('base64url')}`;
}

export function sidOfRefreshToken(token: string): string | undefined {
  const m = /^([0-9a-f-]{36})\.[A-Za-z0-9_-]{43}$/.exec(token);
  return m?.[1];
}

export interface SessionLifetimes {
  /** A refresh token's lifetime; each rotation restarts it. */
  refreshTtlS: number;
  /** The session's absolute lifetime from login: rotation never extends it past this. */
  maxAgeS: number;
}

export async function createSession(redis: Redis, user: User, life: SessionLifetimes): Promise<{ sid: string; refreshToken: string }> {
  const sid = randomUUID();
  const refreshToken = newRefreshToken(sid);
  await redis
    .multi()
    .hset(Keys.session(sid), { uid: user.id, username: user.username, rt: hashToken(refreshToken), created: Date.now() })
    .expire(Keys.session(sid), Math.min(life.refreshTtlS, life.maxAgeS))
    // The user's index of sessions lives as long as the newest could (every session ends within
    // SESSION_MAX_AGE_S of its login), so a user who stops logging in leaves nothing behind.
    .sadd(Keys.userSessions(user.id), sid)
    .expire(Keys.userSessions(user.id), life.maxAgeS)
    .exec();
  // A user who keeps logging in keeps the index alive: without pruning it would gain an id per
  // login forever. Login is the only place it grows, so pruning here bounds it by the sessions
  // still alive, plus the few that ended since the last login.
  await pruneUserSessions(redis, user.id);
  return { sid, refreshToken };
}

/**
 * Removes the ids of ended sessions (expired, logged out, revoked) from a user's index. A session
 * never comes back once its key is gone, so an id seen missing can be removed without a race;
 * one created meanwhile is not in the list read here. Returns how many were removed.
 */
export async function pruneUserSessions(redis: Redis, userId: string): Promise<number> {
  const key = Keys.userSessions(userId);
  const sids = await redis.smembers(key);
  if (sids.length === 0) return 0;
  const p = redis.pipeline();
  for (const sid of sids) p.exists(Keys.session(sid));
  const results = await p.exec();
  const failed = results?.find(([err]) => err);
  if (!results || failed) throw failed?.[0] ?? new Error('pipeline not executed');
  const ended = sids.filter((_, i) => results[i]![1] === 0);
  if (ended.length) await redis.srem(key, ...ended);
  return ended.length;
}

export async function getSession(redis: Redis, sid: string): Promise<Session | undefined> {
  const [uid, username] = await redis.hmget(Keys.session(sid), 'uid', 'username');
  return uid && username ? { sid, userId: uid, username } : undefined;
}

/** How many rotated-out refresh-token hashes a session remembers for reuse detection. */
export const ROTATED_KEEP = 16;

// Atomic consume-and-rotate: the check of the presented token and the swap happen in one script,
// so two refreshes racing with the same token (on any workers) cannot both succeed.
// KEYS: session, rotated list. ARGV: presented hash, next hash, refresh ttl s, max age ms, now ms,
// grace ms, keep.
// Returns {1, uid, username} rotated; 0 unknown (expired, revoked, past its max age, never issued,
// or rotated out longer ago than the list remembers); -2 the token rotated out last, less than
// the grace ago (a racing tab: nothing revoked); -1 reuse of a token already rotated out: the whole
// session is deleted (RFC 9700 §4.14.2). The user comes from the same script so a revocation
// between a read and the swap cannot slip through.
const ROTATE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local s = redis.call('HMGET', KEYS[1], 'rt', 'uid', 'username', 'created', 'prev', 'prevAt')
local now = tonumber(ARGV[5])
local left = tonumber(s[4] or '0') + tonumber(ARGV[4]) - now
if left <= 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 0
end
if s[1] == ARGV[1] then
  local ttl = math.min(tonumber(ARGV[3]) * 1000, left)
  redis.call('HSET', KEYS[1], 'rt', ARGV[2], 'prev', ARGV[1], 'prevAt', ARGV[5])
  redis.call('LPUSH', KEYS[2], ARGV[1])
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[7]) - 1)
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
  return {1, s[2], s[3]}
end
if s[5] == ARGV[1] and now - tonumber(s[6] or '0') < tonumber(ARGV[6]) then return -2 end
if redis.call('LPOS', KEYS[2], ARGV[1]) then
  redis.call('DEL', KEYS[1], KEYS[2])
  return -1
end
return 0`;

export type RotateResult =
  | { ok: true; session: Session; refreshToken: string }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'superseded' }
  | { ok: false; reason: 'reused'; sid: string };

export interface RotationRules extends SessionLifetimes {
  /** A token rotated out less than this long ago gets `superseded`, not a revocation. */
  graceMs: number;
}

/**
 * Consumes `presented` and returns its successor. Throws when Redis is unavailable or the command
 * times out. After a timeout the outcome is unknown: the script may or may not have run (ioredis
 * never resends it; with `maxRetriesPerRequest: 0` a dropped connection rejects it). Callers answer
 * 503 and do not guess. A client that retries with the same token then either succeeds (the
 * script never ran) or is treated as reuse and loses the session (it ran): a retry cannot be told
 * apart from a concurrent second use, and letting it through would also let a thief's copy
 * through, so the client logs in again. See docs/security.md.
 */
export async function rotateRefreshToken(redis: Redis, presented: string, rules: RotationRules): Promise<RotateResult> {
  const sid = sidOfRefreshToken(presented);
  if (!sid) return { ok: false, reason: 'invalid' };
  const next = newRefreshToken(sid);
  const r = await redis.eval(
    ROTATE, 2, Keys.session(sid), Keys.sessionRotated(sid), hashToken(presented), hashToken(next),
    rules.refreshTtlS, rules.maxAgeS * 1000, Date.now(), rules.graceMs, ROTATED_KEEP,
  );
  if (Array.isArray(r) && r[0] === 1 && typeof r[1] === 'string' && typeof r[2] === 'string') {
    return { ok: true, session: { sid, userId: r[1], username: r[2] }, refreshToken: next };
  }
  if (r === -1) return { ok: false, reason: 'reused', sid };
  if (r === -2) return { ok: false, reason: 'superseded' };
  return { ok: false, reason: 'invalid' };
}

export async function deleteSession(redis: Redis, sid: string): Promise<boolean> {
  return (await redis.del(Keys.session(sid), Keys.sessionRotated(sid))) > 0;
}

/**
 * Ends every session of a user (operator `disconnect` with `revoke`): their refresh tokens and
 * access tokens stop working at once. Returns how many sessions existed. Throws if Redis is away.
 */
export async function revokeUserSessions(redis: Redis, username: string): Promise<number> {
  const uid = await redis.hget(Keys.user(username), 'id');
  if (!uid) return 0;
  const sids = await redis.smembers(Keys.userSessions(uid));
  if (sids.length === 0) return 0;
  const keys = sids.flatMap((sid) => [Keys.session(sid), Keys.sessionRotated(sid)]);
  const r = await redis.multi().exists(...sids.map((sid) => Keys.session(sid))).del(...keys, Keys.userSessions(uid)).exec();
  return Number(r?.[0]?.[1] ?? 0);
}
