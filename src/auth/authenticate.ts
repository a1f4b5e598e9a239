/**
 * The one access-token check (§5, §6): verify the JWT, load its session, and make sure the session
 * still belongs to the token's subject. The HTTP API, the WebSocket upgrade and the in-band `auth`
 * op all call this, so a revoked session is refused the same way everywhere.
 *
 * A Redis outage is its own outcome, `unavailable`: a good token must never be reported as bad just
 * because the session could not be read (the client would throw it away).
 */
import type { Redis } from 'ioredis';
import { isRedisUnavailable } from '../store/redis.ts';
import { getSession, type Session } from './sessions.ts';
import type { AccessTokens } from './tokens.ts';

export type AccessCheck =
  | { ok: true; session: Session; expiresAt: number }
  /** invalid: bad or missing token; expired; revoked: the session ended; unavailable: Redis is down. */
  | { ok: false; reason: 'invalid' | 'expired' | 'revoked' | 'unavailable' };

export async function authenticateAccess(tokens: AccessTokens, redis: Redis, token: string | undefined): Promise<AccessCheck> {
  if (!token) return { ok: false, reason: 'invalid' };
  const verified = await tokens.verify(token);
  if (!verified.ok) return { ok: false, reason: verified.reason };
  let session: Session | undefined;
  try {
    session = await getSession(redis, verified.claims.sid);
  } catch (err) {
    if (isRedisUnavailable(err)) return { ok: false, reason: 'unavailable' };
    throw err;
  }
  if (!session || session.userId !== verified.claims.sub) return { ok: false, reason: 'revoked' };
  return { ok: true, session, expiresAt: verified.expiresAt };
}
