/**
 * The session half of the HTTP API (§5): refresh-token rotation, logout, and REST subscriptions
 * that act on every open socket of the caller's session on every worker. See docs/security.md.
 */
import { z } from 'zod';
import { deleteSession, rotateRefreshToken } from '../auth/sessions.ts';
import { MAX_TOKEN, MIN_TOKEN, MODES } from '../protocol/tick.ts';
import type { GatewayContext } from './context.ts';
import { readJsonBody, type Reply } from './http.ts';
import { authenticate, body, loginResponse, route, validate, type RequestInfo } from './routes.ts';

const refreshBody = z.object({
  refresh_token: z.string({ message: 'refresh_token must be a string' }).max(512, 'refresh_token is too long'),
});

export function registerSessionRoutes(ctx: GatewayContext): void {
  const { app, redis, config, bus, log } = ctx;

  const tokenList = z
    .array(z.number().int().min(MIN_TOKEN).max(MAX_TOKEN), { message: 'tokens must be an array of integers in 1..4294967295' })
    .min(1, 'tokens must not be empty')
    .max(config.maxTokensPerSocket, `at most ${config.maxTokensPerSocket} tokens`);
  const subscribeBody = z.object({
    tokens: tokenList,
    mode: z.enum(MODES, { message: 'mode must be ltp, quote or full' }).optional(),
  });
  const unsubscribeBody = z.object({ tokens: tokenList });

  /** Closes the session's sockets everywhere; a failed publish is left to the periodic check. */
  async function announceRevoked(sid: string): Promise<void> {
    try {
      await bus.publish({ kind: 'session.revoked', sid });
    } catch (err) {
      // The session is already gone in Redis, so the answer stands; workers close its sockets at
      // their next session check (session-sockets.ts) instead of at once.
      log.warn({ err, sid }, 'could not announce a revoked session');
    }
  }

  /**
   * Rotation (RFC 9700 §4.14.2): the presented token dies and a new pair is returned. A token that
   * was already rotated out means two parties hold the session's tokens; the whole session is
   * revoked and its sockets close with 4003. A Redis timeout answers 503 (see rotateRefreshToken
   * for why a retry after that may cost the session).
   */
  app.post('/api/auth/refresh', route(ctx, async (reply, info) => {
    const b = await body(ctx, reply, info, refreshBody);
    if (!b) return;
    const r = await rotateRefreshToken(redis, b.refresh_token, {
      refreshTtlS: config.refreshTtlS, maxAgeS: config.sessionMaxAgeS, graceMs: config.refreshGraceMs,
    });
    if (r.ok) return reply.json(200, await loginResponse(ctx, r.session.userId, r.session.sid, r.refreshToken));
    if (r.reason === 'reused') {
      log.warn({ sid: r.sid, ip: info.ip }, 'refresh token reuse: session revoked');
      await announceRevoked(r.sid);
    }
    if (r.reason === 'superseded') return reply.error('refresh_superseded');
    reply.error('invalid_refresh_token');
  }));

  app.post('/api/auth/logout', route(ctx, async (reply, info) => {
    const session = await authenticate(ctx, reply, info);
    if (!session) return;
    await deleteSession(redis, session.sid);
    await announceRevoked(session.sid);
    log.info({ user: session.username }, 'logged out');
    reply.json(204, undefined);
  }));

  /**
   * The caller's session and the validated body, or undefined with the answer sent (401 first).
   * The body is read from the start: uWS hands a request's data only to a handler attached before
   * the route handler returns, so reading cannot wait for authentication.
   */
  async function authenticatedBody<T>(reply: Reply, info: RequestInfo, schema: z.ZodType<T>) {
    const raw = readJsonBody(reply, info.contentType, info.contentLength, config.bodyLimitBytes);
    const session = await authenticate(ctx, reply, info);
    if (!session) return undefined;
    const b = validate(reply, await raw, schema);
    return b === undefined ? undefined : { session, body: b };
  }

  async function sessionCommand(reply: Reply, cmd: Parameters<typeof bus.request>[0]) {
    // Without our own subscription the other workers' counts could not be heard.
    if (!bus.ready) return reply.error('unavailable');
    const connections = await bus.request(cmd);
    reply.json(200, { connections });
  }

  app.post('/api/subscriptions', route(ctx, async (reply, info) => {
    const r = await authenticatedBody(reply, info, subscribeBody);
    if (!r) return;
    const { tokens, mode } = r.body;
    await sessionCommand(reply, { kind: 'session.subscribe', sid: r.session.sid, tokens, ...(mode ? { mode } : {}) });
  }));

  app.del('/api/subscriptions', route(ctx, async (reply, info) => {
    const r = await authenticatedBody(reply, info, unsubscribeBody);
    if (!r) return;
    await sessionCommand(reply, { kind: 'session.unsubscribe', sid: r.session.sid, tokens: r.body.tokens });
  }));
}
