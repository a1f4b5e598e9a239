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
import type { AccessClaims, AccessTokens } from './tokens.ts';

export type AccessCheck<S = Session> =
  | { ok: true; session: S; expiresAt: number }
  /** invalid: bad or missing token; expired; revoked: the session ended; unavailable: Redis is down. */
  | { ok: false; reason: 'invalid' | 'expired' | 'revoked' | 'unavailable' };

export async function authenticateAccess(tokens: AccessTokens, redis: Redis, token: string | undefined): Promise<AccessCheck> {
  return checkAccess(tokens, token, async (claims) => {
    const session = await getSession(redis, claims.sid);
    return session && session.userId === claims.sub ? session : undefined;
  });
}

/**
 * The same check with the session read supplied by the caller, who may do more in that round trip
 * (the WebSocket upgrade also takes the user's socket lease, see upgrade-gates.ts). `readSession`
 * resolves undefined when the session is gone or is not the token subject's, and rejects when
 * Redis is unreachable.
 */
export async function checkAccess<S>(
  tokens: AccessTokens, token: string | undefined, readSession: (claims: AccessClaims) => Promise<S | undefined>,
): Promise<AccessCheck<S>> {
  if (!token) return { ok: false, reason: 'invalid' };
  const verified = await tokens.verify(token);
  if (!verified.ok) return { ok: false, reason: verified.reason };
  let session: S | undefined;
  try {
    session = await readSession(verified.claims);
  } catch (err) {
    if (isRedisUnavailable(err)) return { ok: false, reason: 'unavailable' };
    throw err;
  }
  if (session === undefined) return { ok: false, reason: 'revoked' };
  return { ok: true, session, expiresAt: verified.expiresAt };
}
