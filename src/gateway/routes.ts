/**
 * The HTTP API (§5). Every handler copies what it needs out of the request synchronously (uWS
 * requests are stack-allocated and die at the first await), answers through `Reply`, and maps
 * infrastructure failures to 503 rather than letting a request hang or crash the worker.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { HashGate, verifyPassword } from '../auth/passwords.ts';
import { authenticateAccess } from '../auth/authenticate.ts';
import { createSession } from '../auth/sessions.ts';
import { refundLoginAttempt, reserveLoginAttempt } from '../auth/throttle.ts';
import { createUser, findUser, userExists } from '../auth/users.ts';
import { MAX_PASSWORD_BYTES, MIN_PASSWORD_BYTES, USERNAME_RE } from '../protocol/credentials.ts';
import { isRedisUnavailable } from '../store/redis.ts';
import type { GatewayContext } from './context.ts';
import { registerDashboardRoutes } from './dashboard-routes.ts';
import { readInstruments } from './token-store.ts';
import { clientIp, trustedProxiesOf } from './client-ip.ts';
import { registrationAttempt } from './limits.ts';
import { bearerToken, readJsonBody, Reply, type BodyResult } from './http.ts';
import type { HttpRequest, HttpResponse } from './uws.ts';

const credentials = z.object({
  username: z.string().regex(USERNAME_RE, 'username must be 3–32 characters of A–Z, a–z, 0–9, _ . -'),
  password: z.string().refine(
    (p) => Buffer.byteLength(p, 'utf8') >= MIN_PASSWORD_BYTES && Buffer.byteLength(p, 'utf8') <= MAX_PASSWORD_BYTES,
    `password must be ${MIN_PASSWORD_BYTES}–${MAX_PASSWORD_BYTES} bytes of UTF-8`,
  ),
});

/** A handler after the synchronous part: the request's headers are already copied out. */
type Handler = (reply: Reply, h: RequestInfo) => Promise<void>;

export interface RequestInfo {
  authorization: string;
  contentType: string;
  contentLength: string;
  ip: string;
}

function copyRequest(ctx: GatewayContext, res: HttpResponse, req: HttpRequest): RequestInfo {
  return {
    authorization: req.getHeader('authorization'),
    contentType: req.getHeader('content-type'),
    contentLength: req.getHeader('content-length'),
    ip: clientIp(Buffer.from(res.getRemoteAddressAsText()).toString(), req.getHeader('x-forwarded-for'), trustedProxiesOf(ctx.config)),
  };
}

/** Wraps an async handler: Redis trouble becomes 503, anything else 500, never an unhandled rejection. */
export function route(ctx: GatewayContext, handler: Handler) {
  return (res: HttpResponse, req: HttpRequest) => {
    const reply = new Reply(res);
    const info = copyRequest(ctx, res, req);
    handler(reply, info).catch((err: unknown) => {
      if (isRedisUnavailable(err)) {
        ctx.log.warn({ err }, 'redis unavailable during request');
        reply.error('unavailable');
      } else {
        ctx.log.error({ err }, 'request failed');
        reply.error('internal');
      }
    });
  };
}


export async function body<T>(ctx: GatewayContext, reply: Reply, info: RequestInfo, schema: z.ZodType<T>): Promise<T | undefined> {
  return validate(reply, await readJsonBody(reply, info.contentType, info.contentLength, ctx.config.bodyLimitBytes), schema);
}

/** A read body checked against its schema, or the coded 4xx already sent. */
export function validate<T>(reply: Reply, r: BodyResult, schema: z.ZodType<T>): T | undefined {
  if (!r.ok) {
    reply.error(r.code, r.message);
    return undefined;
  }
  const parsed = schema.safeParse(r.value);
  if (!parsed.success) {
    reply.error('invalid_body', parsed.error.issues.map((i) => i.message).join('; '));
    return undefined;
  }
  return parsed.data;
}

/** The caller's session from a Bearer access token, or a 401 already sent. */
export async function authenticate(ctx: GatewayContext, reply: Reply, info: RequestInfo) {
  const r = await authenticateAccess(ctx.tokens, ctx.redis, bearerToken(info.authorization));
  if (r.ok) return r.session;
  if (r.reason === 'unavailable') reply.error('unavailable');
  else reply.error('unauthorized', r.reason === 'revoked' ? 'the session has ended' : undefined, { 'www-authenticate': 'Bearer' });
  return undefined;
}

export async function loginResponse(ctx: GatewayContext, userId: string, sid: string, refreshToken: string) {
  const access = await ctx.tokens.issue(userId, sid);
  return { access_token: access.token, refresh_token: refreshToken, token_type: 'Bearer', expires_in: access.expiresIn };
}

/** How long a worker answers `/api/instruments` from its last read (at most; see STALE_MS below). */
export const INSTRUMENTS_CACHE_MS = 1_000;

export function registerRoutes(ctx: GatewayContext): void {
  const { app, redis, config } = ctx;
  const hashGate = new HashGate();

  app.post('/api/auth/register', route(ctx, async (reply, info) => {
    const creds = await body(ctx, reply, info, credentials);
    if (!creds) return;
    const retryAfterS = await registrationAttempt(redis, info.ip, config.registerLimitPerMin);
    if (retryAfterS > 0) return reply.error('too_many_requests', undefined, { 'retry-after': String(retryAfterS) });
    // The name first: a taken name costs no bcrypt work (createUser still decides atomically).
    if (await userExists(redis, creds.username)) return reply.error('username_taken');
    const pwHash = await hashGate.hash(creds.password);
    if (pwHash === undefined) return reply.error('busy', undefined, { 'retry-after': '1' });
    const user = await createUser(redis, creds.username, pwHash);
    if (user === 'taken') return reply.error('username_taken');
    ctx.log.info({ user: user.username }, 'user registered');
    reply.json(201, { id: user.id, username: user.username });
  }));

  app.post('/api/auth/login', route(ctx, async (reply, info) => {
    // Login accepts any strings: the rules apply to registration, and a uniform 401 reveals nothing.
    const creds = await body(ctx, reply, info, z.object({ username: z.string().max(256), password: z.string().max(1024) }));
    if (!creds) return;
    const gate = await reserveLoginAttempt(redis, creds.username, info.ip, config.loginLimitPerMin);
    if (!gate.ok) return reply.error('too_many_requests', undefined, { 'retry-after': String(gate.retryAfterS) });
    // A username under attack from elsewhere: slowed by a bounded delay, never refused.
    if (gate.delayMs > 0) await sleep(gate.delayMs);
    const user = USERNAME_RE.test(creds.username) ? await findUser(redis, creds.username) : undefined;
    const ok = await verifyPassword(creds.password, user?.pwHash);
    if (!ok || !user) return reply.error('invalid_credentials');
    await refundLoginAttempt(redis, creds.username, info.ip);
    const { sid, refreshToken } = await createSession(redis, user, { refreshTtlS: config.refreshTtlS, maxAgeS: config.sessionMaxAgeS });
    reply.json(200, await loginResponse(ctx, user.id, sid, refreshToken));
  }));

  app.get('/api/me', route(ctx, async (reply, info) => {
    const session = await authenticate(ctx, reply, info);
    if (session) reply.json(200, { id: session.userId, username: session.username });
  }));

  // A short per-worker cache: any number of requests cost Redis one read per worker per
  // cacheMs, so this public route cannot be used to hammer Redis. Concurrent misses share one
  // read. Shorter than a quarter of STALE_MS, so that no state is hidden for long.
  const cacheMs = Math.min(INSTRUMENTS_CACHE_MS, Math.floor(config.staleMs / 4));
  let instruments: { at: number; value: Promise<unknown> } | undefined;
  app.get('/api/instruments', route(ctx, async (reply) => {
    // States as the ingester recorded them (pause state, its stale set), not guessed from `ts`,
    // which is the exchange's clock.
    const now = Date.now();
    if (!instruments || now - instruments.at >= cacheMs) {
      const value = readInstruments(redis);
      instruments = { at: now, value };
      value.catch(() => {
        if (instruments?.value === value) instruments = undefined; // a failure is not cached
      });
    }
    reply.json(200, await instruments.value);
  }));

  app.get('/healthz', (res) => new Reply(res).json(200, { status: 'ok' }));

  app.get('/readyz', (res) => {
    if (ctx.draining()) return new Reply(res).json(503, { status: 'draining' });
    const down: string[] = [];
    // The bus subscription is a second Redis connection; without it logout cannot reach this worker.
    if (redis.status !== 'ready' || !ctx.bus.ready) down.push('redis');
    if (!ctx.link.up) down.push('ingester');
    const reply = new Reply(res);
    if (down.length === 0) reply.json(200, { status: 'ready' });
    else reply.json(503, { status: 'unavailable', down });
  });

  registerDashboardRoutes(ctx);

  app.any('/api/*', (res) => new Reply(res).error('not_found'));
  app.any('/*', (res) => new Reply(res).error('not_found'));
}
