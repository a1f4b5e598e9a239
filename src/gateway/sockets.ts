/**
 * `GET /ws` (§6): authentication on the upgrade, then one connection actor per socket. This is
 * the one place a socket meets its actor: uWS events go in as actor events, the actor's emitted
 * `effect.*` events come out as sends, pings, topic changes and closes.
 *
 * Ticks never come through here: they reach sockets through uWS topics (see ingest-link.ts).
 */
import { randomUUID } from 'node:crypto';
import { createActor, type ActorRefFrom } from 'xstate';
import type { Logger } from 'pino';
import { connectionMachine, type ConnectionEmitted } from '../../actors/connection-machine.ts';
import { getSession } from '../auth/sessions.ts';
import { decodeClientMessage } from '../protocol/client-messages.ts';
import { CloseCodes } from '../protocol/close-codes.ts';
import { ErrorCodes, type ErrorCode } from '../protocol/error-codes.ts';
import { encode, type Limits, type ServerMessage, type TokenState } from '../protocol/server-messages.ts';
import { encodeTick, type Mode, type Tick } from '../protocol/tick.ts';
import { wsTopic } from '../protocol/topics.ts';
import type { GatewayContext } from './context.ts';
import { bearerToken, statusLine } from './http.ts';
import { connectionAttempt, originAllowed } from './limits.ts';
import { isRedisUnavailable } from '../store/redis.ts';
import { readTokenSnapshots, type StoredTokens } from './token-store.ts';
import { uws, type HttpResponse, type WebSocket } from './uws.ts';

/** The contract's frame limit: larger messages close the socket with 1009. */
export const MAX_FRAME_BYTES = 64 * 1024;
/**
 * uWS's own limit. uWS drops a connection over its limit without a close frame, so it is set
 * higher and the 64 KiB rule is applied in `message`, where a proper 1009 can be sent.
 */
const UWS_MAX_PAYLOAD_BYTES = 1024 * 1024;
/** A socket with more than this waiting in its send buffer is behind (see `flow` in the actor). */
export const SLOW_THRESHOLD_BYTES = 256 * 1024;
/**
 * The hard ceiling per socket. Past it uWS would skip messages for that socket; with
 * closeOnBackpressureLimit it drops the connection instead, so a client never silently misses a
 * tick. Normally the 4009 after SLOW_CLOSE_MS comes first.
 */
const MAX_BACKPRESSURE_BYTES = 4 * 1024 * 1024;

type ConnectionActor = ActorRefFrom<typeof connectionMachine>;

export interface SocketData {
  connId: string;
  userId: string;
  username: string;
  sid: string;
  expiresAt: number;
  /** Set in `open`; undefined only between upgrade and open. */
  actor?: ConnectionActor;
  /** True once uWS reported the close: the socket must not be touched after that. */
  closed: boolean;
  /** The welcome until it is sent; it must be the first message on the socket. */
  welcome?: ServerMessage;
  /** The send buffer is over SLOW_THRESHOLD_BYTES (reported to the actor on each change). */
  behind?: boolean;
  log?: Logger;
}

export type Socket = WebSocket<SocketData>;

/**
 * Live sockets of this worker, by session, user id and username: the targets of revocation,
 * REST subscriptions and operator messages (which name users by username).
 */
export class SocketRegistry {
  readonly bySession = new Map<string, Set<Socket>>();
  readonly byUser = new Map<string, Set<Socket>>();
  readonly byUsername = new Map<string, Set<Socket>>();
  /** Sockets this worker closed, by close code (4009 slow consumers among them). */
  readonly closedWith: Record<number, number> = {};

  add(ws: Socket): void {
    const d = ws.getUserData();
    addTo(this.bySession, d.sid, ws);
    addTo(this.byUser, d.userId, ws);
    addTo(this.byUsername, d.username, ws);
  }

  remove(ws: Socket): void {
    const d = ws.getUserData();
    removeFrom(this.bySession, d.sid, ws);
    removeFrom(this.byUser, d.userId, ws);
    removeFrom(this.byUsername, d.username, ws);
  }

  /** Some open socket of this worker, if there is one. */
  any(): Socket | undefined {
    for (const set of this.bySession.values()) for (const ws of set) if (!ws.getUserData().closed) return ws;
    return undefined;
  }

  /** Every open socket of this worker. */
  *all(): Iterable<Socket> {
    for (const set of this.bySession.values()) yield* set;
  }
}

function addTo<K, V>(m: Map<K, Set<V>>, k: K, v: V) {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(v);
}

function removeFrom<K, V>(m: Map<K, Set<V>>, k: K, v: V) {
  const s = m.get(k);
  if (!s) return;
  s.delete(v);
  if (s.size === 0) m.delete(k);
}

export function sendMessage(ws: Socket, msg: ServerMessage): void {
  if (!ws.getUserData().closed) ws.send(encode(msg));
}

function sendWelcome(ws: Socket): void {
  const d = ws.getUserData();
  const welcome = d.welcome;
  if (!welcome || d.closed) return;
  d.welcome = undefined;
  ws.cork(() => sendMessage(ws, welcome));
}

/** Refuses an upgrade with a coded JSON body; no socket is created. */
function refuse(res: HttpResponse, code: ErrorCode, extraHeaders: Record<string, string> = {}): void {
  const e = ErrorCodes[code];
  res.cork(() => {
    res.writeStatus(statusLine(e.status));
    res.writeHeader('content-type', 'application/json');
    for (const [k, v] of Object.entries(extraHeaders)) res.writeHeader(k, v);
    res.end(JSON.stringify({ error: { code, message: e.message } }));
  });
}

/**
 * Runs an async upgrade corked, working around a uWS 20.30 bug (uWebSockets#1928, fixed upstream
 * by #1929, not in the pinned build): when `res.cork(() => res.upgrade())` runs outside a uWS
 * callback, cork's epilogue reads the HTTP state of the socket that was just reallocated into a
 * WebSocket, and now and then closes it (1006 right after the 101) or arms an HTTP timeout on it.
 * Inside another open socket's cork, `res.cork` only runs its callback — uWS.js still counts the
 * writes as corked, so no warning — and the epilogue that follows is the carrier's own, which is
 * sound. Only a worker's very first socket has no carrier and takes the plain path.
 */
function upgradeCorked(res: HttpResponse, upgrade: () => void, carrier: Socket | undefined): void {
  if (carrier) carrier.cork(() => res.cork(upgrade));
  else res.cork(upgrade);
}

/** Returns a function that stops the worker's periodic socket checks. */
export function registerSockets(ctx: GatewayContext, registry: SocketRegistry): () => void {
  const { config, link, log } = ctx;
  const limits: Limits = {
    max_tokens_per_socket: config.maxTokensPerSocket,
    max_frame_bytes: MAX_FRAME_BYTES,
    msg_rate: config.msgRate,
    msg_burst: config.msgBurst,
  };

  ctx.app.ws<SocketData>('/ws', {
    maxPayloadLength: UWS_MAX_PAYLOAD_BYTES,
    // Liveness is the connection actor's job (HEARTBEAT_MS / PONG_TIMEOUT_MS), not uWS's.
    idleTimeout: 0,
    sendPingsAutomatically: false,
    maxBackpressure: MAX_BACKPRESSURE_BYTES,
    closeOnBackpressureLimit: 1,
    compression: uws.DISABLED,

    upgrade: (res, req, context) => {
      // Everything from req must be read now: it is invalid after the first await.
      const h = {
        key: req.getHeader('sec-websocket-key'),
        protocol: req.getHeader('sec-websocket-protocol'),
        extensions: req.getHeader('sec-websocket-extensions'),
        authorization: req.getHeader('authorization'),
        queryToken: req.getQuery('access_token') ?? '',
        origin: req.getHeader('origin'),
        host: req.getHeader('host'),
        ip: Buffer.from(res.getRemoteAddressAsText()).toString(),
      };
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      void upgrade(res, h, context).catch((err: unknown) => {
        if (aborted) return;
        if (isRedisUnavailable(err)) refuse(res, 'unavailable');
        else {
          log.error({ err }, 'upgrade failed');
          refuse(res, 'unavailable');
        }
      });

      async function upgrade(r: HttpResponse, hd: typeof h, uwsContext: unknown) {
        if (!originAllowed(hd.origin, hd.host, config.allowedOrigins)) return refuse(r, 'forbidden_origin');
        // Counted before the token is looked at: the limit is on attempts, valid or not.
        const retryAfterS = await connectionAttempt(ctx.redis, hd.ip, config.connRatePerIp);
        if (aborted) return;
        if (retryAfterS > 0) return refuse(r, 'too_many_requests', { 'retry-after': String(retryAfterS) });
        const token = bearerToken(hd.authorization) ?? (hd.queryToken || undefined);
        const verified = token ? await ctx.tokens.verify(token) : undefined;
        if (aborted) return;
        if (!verified?.ok) return refuse(r, 'unauthorized');
        const session = await getSession(ctx.redis, verified.claims.sid);
        if (aborted) return;
        if (!session || session.userId !== verified.claims.sub) return refuse(r, 'unauthorized');
        // MAX_SOCKETS_PER_USER across every worker: a lease in Redis, released on close.
        const connId = randomUUID();
        if (!(await ctx.sessionSockets.admit(session.userId, connId))) {
          if (!aborted) refuse(r, 'too_many_sockets');
          return;
        }
        if (aborted) return ctx.sessionSockets.release(session.userId, connId);
        const data: SocketData = {
          connId,
          userId: session.userId,
          username: session.username,
          sid: session.sid,
          expiresAt: verified.expiresAt,
          closed: false,
        };
        upgradeCorked(r, () => r.upgrade(data, hd.key, hd.protocol, hd.extensions, uwsContext as never), registry.any());
      }
    },

    open: (ws) => {
      const d = ws.getUserData();
      d.log = log.child({ conn: d.connId, user: d.username });
      const actor = createActor(connectionMachine, {
        input: {
          heartbeatMs: config.heartbeatMs,
          pongTimeoutMs: config.pongTimeoutMs,
          maxTokens: config.maxTokensPerSocket,
          msgRate: config.msgRate,
          msgBurst: config.msgBurst,
          reauthLeadMs: config.reauthLeadMs,
          slowCloseMs: config.slowCloseMs,
          expiresAt: d.expiresAt,
          userId: d.userId,
          now: Date.now,
        },
      });
      d.actor = actor;
      actor.on('*', (e) => perform(ws, e as ConnectionEmitted));
      // An unobserved actor error is rethrown in a timer and would kill the worker.
      actor.subscribe({
        error: (err) => {
          d.log?.error({ err }, 'connection actor failed');
          if (!d.closed) ws.end(CloseCodes.internal.code, CloseCodes.internal.reason);
        },
      });
      registry.add(ws);
      actor.start();
      d.welcome = {
        type: 'welcome', conn_id: d.connId, user: d.username, worker: ctx.workerId,
        heartbeat_ms: config.heartbeatMs, expires_at: d.expiresAt, limits,
      };
      // Not sent from inside `open`: after an async upgrade, `open` runs inside the upgrade's
      // cork, and a send there makes uWS 20.30 drop the new socket now and then (1006 right after
      // the welcome; uWebSockets.js#1108). The next turn of the loop is outside that cork; a
      // client message arriving first sends it before anything else.
      setImmediate(() => sendWelcome(ws));
    },

    message: (ws, message, isBinary) => {
      const d = ws.getUserData();
      sendWelcome(ws);
      if (message.byteLength > MAX_FRAME_BYTES) {
        d.closed = true;
        ws.end(CloseCodes.tooBig.code, CloseCodes.tooBig.reason);
        return;
      }
      const actor = d.actor!;
      actor.send({ type: 'client.frame' });
      if (isBinary) {
        actor.send({ type: 'client.invalid', id: undefined, code: 'bad_request', message: 'send JSON text frames' });
        return;
      }
      const decoded = decodeClientMessage(Buffer.from(message).toString('utf8'));
      if (decoded.ok) actor.send({ type: 'client.message', msg: decoded.msg });
      else actor.send({ type: 'client.invalid', id: decoded.id, code: decoded.code === 'unknown_op' ? 'unknown_op' : 'bad_request', message: decoded.message });
    },

    pong: (ws) => {
      ws.getUserData().actor?.send({ type: 'client.frame' });
    },

    drain: (ws) => checkFlow(ws),

    subscription: (_ws, topic, newCount, oldCount) => {
      link.onTopicCount(Buffer.from(topic).toString('latin1'), newCount, oldCount);
    },

    close: (ws, code) => {
      const d = ws.getUserData();
      d.closed = true;
      registry.remove(ws);
      ctx.sessionSockets.release(d.userId, d.connId);
      const actor = d.actor;
      if (actor && actor.getSnapshot().status === 'active') actor.send({ type: 'socket.closed' });
      actor?.stop();
      d.log?.debug({ code }, 'socket closed');
    },
  });

  // The send buffer only grows on the tick path, which must stay free of per-socket work, so it
  // is sampled here instead; `drain` reports catching up as soon as it happens.
  const flowTimer = setInterval(() => {
    for (const ws of registry.all()) checkFlow(ws);
  }, Math.min(1_000, Math.max(50, Math.floor(config.slowCloseMs / 4))));

  function checkFlow(ws: Socket): void {
    const d = ws.getUserData();
    if (d.closed || !d.actor) return;
    const buffered = ws.getBufferedAmount();
    if (!d.behind && buffered > SLOW_THRESHOLD_BYTES) {
      d.behind = true;
      d.actor.send({ type: 'socket.behind' });
    } else if (d.behind && buffered < SLOW_THRESHOLD_BYTES / 2) {
      d.behind = false;
      d.actor.send({ type: 'socket.caughtUp' });
    }
  }

  /** Carries out one effect the actor decided on. */
  function perform(ws: Socket, e: ConnectionEmitted): void {
    const d = ws.getUserData();
    if (d.closed) return;
    switch (e.type) {
      case 'effect.send':
        return sendMessage(ws, e.message);
      case 'effect.ping':
        ws.ping();
        return;
      case 'effect.close':
        registry.closedWith[e.close.code] = (registry.closedWith[e.close.code] ?? 0) + 1;
        if (e.close.code === CloseCodes.slowConsumer.code) d.log?.info({ buffered: ws.getBufferedAmount() }, 'slow consumer closed');
        d.closed = true;
        ws.end(e.close.code, e.close.reason);
        return;
      case 'effect.subscribe':
        return subscribe(ws, e);
      case 'effect.unsubscribe':
        ws.cork(() => {
          for (const { token, mode } of e.removed) ws.unsubscribe(wsTopic(token, mode));
          sendMessage(ws, { type: 'unsubscribed', ...(e.id === undefined ? {} : { id: e.id }), tokens: e.tokens, ...(e.rejected.length ? { rejected: e.rejected } : {}) });
        });
        return;
      case 'effect.verifyAuth':
        void verifyAuth(ws, e.id, e.accessToken);
        return;
    }
  }

  /**
   * The ack, then a snapshot per token with a known value, then live ticks. Tokens this worker
   * already forwards have their newest tick in memory: snapshot and topic subscription happen in
   * one synchronous step, so no live tick can overtake the snapshot. Other tokens are read from
   * Redis first and subscribed after, for the same reason.
   */
  function subscribe(ws: Socket, e: Extract<ConnectionEmitted, { type: 'effect.subscribe' }>): void {
    const d = ws.getUserData();
    const fetch: number[] = [];
    ws.cork(() => {
      sendMessage(ws, {
        type: 'subscribed', ...(e.id === undefined ? {} : { id: e.id }), tokens: e.tokens, mode: e.mode,
        epoch: link.epoch ?? '', rejected: e.rejected,
        // No tick history is kept yet, so a resume (`since`) cannot replay: every token it names
        // is a gap, and the snapshot that follows stands in for the missed ticks (§6).
        ...(e.msg.since ? { recovered: [], gaps: e.tokens.filter((t) => e.msg.since!.has(t)) } : {}),
      });
      for (const { token, from } of e.modeChanged) {
        // The newest value in the new mode first. Subscribe the new mode's topic before leaving
        // the old one, so the worker's ZeroMQ subscription never drops to zero in between.
        const latest = link.latest(token, e.mode);
        if (latest) ws.send(withSnapshotFlag(latest));
        ws.subscribe(wsTopic(token, e.mode));
        ws.unsubscribe(wsTopic(token, from));
      }
      const states = new TokenStates();
      for (const token of e.tokens) {
        const topic = wsTopic(token, e.mode);
        if (ws.isSubscribed(topic)) continue; // already live in this mode: nothing to resend
        const latest = link.latest(token, e.mode);
        if (latest) {
          ws.send(withSnapshotFlag(latest));
          ws.subscribe(topic);
          states.add(token, link.tokenState(token));
        } else fetch.push(token);
      }
      states.send(ws);
    });
    if (fetch.length === 0) return;
    // A worker that does not forward a token (or has no tick of it: it may be paused) learns its
    // snapshot and pause state from Redis.
    readTokenSnapshots(ctx.redis, fetch).then(
      (stored) => finish(stored),
      (err: Error) => {
        d.log?.warn({ err: err.message }, 'no snapshots: redis unavailable');
        finish({ ticks: fetch.map(() => null), paused: fetch.map(() => false) });
      },
    );
    function finish(stored: StoredTokens) {
      if (d.closed) return;
      const wanted = d.actor!.getSnapshot().context.subscriptions;
      ws.cork(() => {
        const states = new TokenStates();
        fetch.forEach((token, i) => {
          // The client may have unsubscribed or changed mode while Redis answered.
          if (wanted.get(token) !== e.mode) return;
          const topic = wsTopic(token, e.mode);
          if (ws.isSubscribed(topic)) return;
          const cached = link.latest(token, e.mode);
          const json = stored.ticks[i];
          if (cached) ws.send(withSnapshotFlag(cached));
          else if (json) ws.send(snapshotFromStored(json, e.mode));
          ws.subscribe(topic);
          // A status the link forwarded is newer than what Redis said when it was read.
          states.add(token, link.tokenState(token) ?? (stored.paused[i] ? 'paused' : undefined));
        });
        states.send(ws);
      });
    }
  }

  async function verifyAuth(ws: Socket, id: unknown, accessToken: string): Promise<void> {
    const d = ws.getUserData();
    const v = await ctx.tokens.verify(accessToken);
    let ok = v.ok && v.claims.sub === d.userId;
    if (ok && v.ok) ok = (await getSession(ctx.redis, v.claims.sid).catch(() => undefined)) !== undefined;
    if (d.closed || d.actor?.getSnapshot().status !== 'active') return;
    const rid = id as string | number | boolean | null | undefined;
    if (ok && v.ok) {
      // A token of another session of the same user (a fresh login) moves the socket to that
      // session: from now on its revocation, not the old one's, closes the socket.
      if (v.claims.sid !== d.sid) {
        registry.remove(ws);
        d.sid = v.claims.sid;
        registry.add(ws);
      }
      d.actor.send({ type: 'auth.verified', id: rid, expiresAt: v.expiresAt });
    } else d.actor.send({ type: 'auth.rejected', id: rid });
  }

  return () => clearInterval(flowTimer);
}

const SNAPSHOT_SUFFIX = ',"snapshot":true}';

/**
 * A tick's bytes in snapshot form (`"snapshot":true` before the closing brace). The newest tick
 * may already be one: the ingester re-sends the newest value as a snapshot on resume.
 */
function withSnapshotFlag(tick: Buffer): string {
  const s = tick.toString('utf8');
  return s.endsWith(SNAPSHOT_SUFFIX) ? s : `${s.slice(0, -1)}${SNAPSHOT_SUFFIX}`;
}

/**
 * Tokens of one subscribe that are not live, by state: after their snapshots the socket gets one
 * `status` per state (§4: ack, snapshot, then `status paused`). Live is the default and not sent.
 */
class TokenStates {
  private readonly byState = new Map<TokenState, number[]>();

  add(token: number, state: TokenState | undefined): void {
    if (state === undefined || state === 'live') return;
    const list = this.byState.get(state);
    if (list) list.push(token);
    else this.byState.set(state, [token]);
  }

  send(ws: Socket): void {
    for (const [state, tokens] of this.byState) sendMessage(ws, { type: 'status', tokens, state });
  }
}

function snapshotFromStored(json: string, mode: Mode): string {
  return encodeTick(JSON.parse(json) as Tick, mode, true);
}
