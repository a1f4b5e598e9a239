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
import { encode, type Limits, type ServerMessage } from '../protocol/server-messages.ts';
import { encodeTick, type Mode, type Tick } from '../protocol/tick.ts';
import { wsTopic } from '../protocol/topics.ts';
import { Keys } from '../store/keys.ts';
import type { GatewayContext } from './context.ts';
import { bearerToken, statusLine } from './http.ts';
import { isRedisUnavailable } from './routes.ts';
import { uws, type HttpRequest, type HttpResponse, type WebSocket } from './uws.ts';

/** The contract's frame limit: larger messages close the socket with 1009. */
export const MAX_FRAME_BYTES = 64 * 1024;
/**
 * uWS's own limit. uWS drops a connection over its limit without a close frame, so it is set
 * higher and the 64 KiB rule is applied in `message`, where a proper 1009 can be sent.
 */
const UWS_MAX_PAYLOAD_BYTES = 1024 * 1024;

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
  log?: Logger;
}

type Socket = WebSocket<SocketData>;

/** Live sockets of this worker, by session and by user: targets for revocation and notices. */
export class SocketRegistry {
  readonly bySession = new Map<string, Set<Socket>>();
  readonly byUser = new Map<string, Set<Socket>>();

  add(ws: Socket): void {
    const d = ws.getUserData();
    addTo(this.bySession, d.sid, ws);
    addTo(this.byUser, d.userId, ws);
  }

  remove(ws: Socket): void {
    const d = ws.getUserData();
    removeFrom(this.bySession, d.sid, ws);
    removeFrom(this.byUser, d.userId, ws);
  }

  countForUser(userId: string): number {
    return this.byUser.get(userId)?.size ?? 0;
  }

  get size(): number {
    let n = 0;
    for (const s of this.bySession.values()) n += s.size;
    return n;
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

function sendMessage(ws: Socket, msg: ServerMessage): void {
  if (!ws.getUserData().closed) ws.send(encode(msg));
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

export function registerSockets(ctx: GatewayContext, registry: SocketRegistry): void {
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
    maxBackpressure: 1024 * 1024,
    compression: uws.DISABLED,

    upgrade: (res, req, context) => {
      // Everything from req must be read now: it is invalid after the first await.
      const h = {
        key: req.getHeader('sec-websocket-key'),
        protocol: req.getHeader('sec-websocket-protocol'),
        extensions: req.getHeader('sec-websocket-extensions'),
        authorization: req.getHeader('authorization'),
        queryToken: req.getQuery('access_token') ?? '',
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
        const token = bearerToken(hd.authorization) ?? (hd.queryToken || undefined);
        const verified = token ? await ctx.tokens.verify(token) : undefined;
        if (aborted) return;
        if (!verified?.ok) return refuse(r, 'unauthorized');
        const session = await getSession(ctx.redis, verified.claims.sid);
        if (aborted) return;
        if (!session || session.userId !== verified.claims.sub) return refuse(r, 'unauthorized');
        if (registry.countForUser(session.userId) >= config.maxSocketsPerUser) return refuse(r, 'too_many_sockets');
        const data: SocketData = {
          connId: randomUUID(),
          userId: session.userId,
          username: session.username,
          sid: session.sid,
          expiresAt: verified.expiresAt,
          closed: false,
        };
        r.cork(() => r.upgrade(data, hd.key, hd.protocol, hd.extensions, uwsContext as never));
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
      sendMessage(ws, {
        type: 'welcome', conn_id: d.connId, user: d.username, worker: ctx.workerId,
        heartbeat_ms: config.heartbeatMs, expires_at: d.expiresAt, limits,
      });
    },

    message: (ws, message, isBinary) => {
      const d = ws.getUserData();
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

    subscription: (_ws, topic, newCount, oldCount) => {
      link.onTopicCount(Buffer.from(topic).toString('latin1'), newCount, oldCount);
    },

    close: (ws, code) => {
      const d = ws.getUserData();
      d.closed = true;
      registry.remove(ws);
      const actor = d.actor;
      if (actor && actor.getSnapshot().status === 'active') actor.send({ type: 'socket.closed' });
      actor?.stop();
      d.log?.debug({ code }, 'socket closed');
    },
  });

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
      });
      for (const { token, from } of e.modeChanged) {
        // The newest value in the new mode first. Subscribe the new mode's topic before leaving
        // the old one, so the worker's ZeroMQ subscription never drops to zero in between.
        const latest = link.latest(token, e.mode);
        if (latest) ws.send(withSnapshotFlag(latest));
        ws.subscribe(wsTopic(token, e.mode));
        ws.unsubscribe(wsTopic(token, from));
      }
      for (const token of e.tokens) {
        const topic = wsTopic(token, e.mode);
        if (ws.isSubscribed(topic)) continue; // already live in this mode: nothing to resend
        const latest = link.latest(token, e.mode);
        if (latest) {
          ws.send(withSnapshotFlag(latest));
          ws.subscribe(topic);
        } else fetch.push(token);
      }
    });
    if (fetch.length === 0) return;
    ctx.redis.hmget(Keys.lastTicks, ...fetch.map(String)).then(
      (values) => finish(values),
      (err: Error) => {
        d.log?.warn({ err: err.message }, 'no snapshots: redis unavailable');
        finish(fetch.map(() => null));
      },
    );
    function finish(values: (string | null)[]) {
      if (d.closed) return;
      const wanted = d.actor!.getSnapshot().context.subscriptions;
      ws.cork(() => {
        fetch.forEach((token, i) => {
          // The client may have unsubscribed or changed mode while Redis answered.
          if (wanted.get(token) !== e.mode) return;
          const topic = wsTopic(token, e.mode);
          if (ws.isSubscribed(topic)) return;
          const cached = link.latest(token, e.mode);
          const json = values[i];
          if (cached) ws.send(withSnapshotFlag(cached));
          else if (json) ws.send(snapshotFromStored(json, e.mode));
          ws.subscribe(topic);
        });
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
    if (ok && v.ok) d.actor.send({ type: 'auth.verified', id: rid, expiresAt: v.expiresAt });
    else d.actor.send({ type: 'auth.rejected', id: rid });
  }
}

/** A live tick's bytes turned into its snapshot form (`"snapshot":true` before the closing brace). */
function withSnapshotFlag(tick: Buffer): string {
  const s = tick.toString('utf8');
  return `${s.slice(0, -1)},"snapshot":true}`;
}

function snapshotFromStored(json: string, mode: Mode): string {
  return encodeTick(JSON.parse(json) as Tick, mode, true);
}
