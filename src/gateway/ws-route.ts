/**
 * `GET /ws`: the one place a socket meets its actor. uWS events go in as actor events; the actor's
 * emitted `effect.*` events come out as sends, pings, topic changes and closes. Nothing is decided
 * here — not a close, not a state — only translated. (The upgrade is in ws-upgrade.ts, the
 * subscribe sequencing in subscription-join.ts.)
 *
 * Ticks never come through here: they reach sockets through uWS topics (see ingest-link.ts).
 */
import { createActor, fromCallback, fromPromise } from 'xstate';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../../config/index.ts';
import { connectionMachine, openingSnapshot, type AuthOutcome, type ConnectionEmitted, type ConnectionSettings, type VerifyAccessInput } from '../../actors/connection-machine.ts';
import { authenticateAccess } from '../auth/authenticate.ts';
import type { AccessTokens } from '../auth/tokens.ts';
import { decodeClientMessage } from '../protocol/client-messages.ts';
import { hasRateBudget } from '../../actors/connection-rules.ts';
import { CloseCodes } from '../protocol/close-codes.ts';
import type { Limits } from '../protocol/server-messages.ts';
import type { IngestLink } from './ingest-link.ts';
import type { CorkCarrier } from './cork-carrier.ts';
import type { SessionSockets } from './session-sockets.ts';
import { sendMessage, type Socket, type SocketData, type SocketRegistry } from './socket-model.ts';
import { catchUp, conflate, releaseAllHolds, subscribe, unsubscribe } from './subscription-join.ts';
import { uws, type TemplatedApp } from './uws.ts';
import { upgradeHandler } from './ws-upgrade.ts';
import { countConflation, countWsError } from './event-counts.ts';
import { WakeWheel } from './wake-wheel.ts';

/**
 * The contract's message limit (§6), given to uWS as `maxPayloadLength` so that no socket ever
 * buffers more than this: uWS reserves a frame's whole announced length when it starts arriving,
 * and keeps the fragments of an unfinished message until its last one. A limit above 64 KiB let a
 * client park that much per socket while answering pings (security issue, finding 4).
 *
 * At the edge uWS decides, not us: a frame header announcing more than the limit, or fragments
 * adding up to more, make uWS close the TCP connection at once, without a close frame (the
 * client sees 1006; the close handler gets 1006 and "Received too big message"). No message over
 * the limit ever reaches `message`, so a 1009 frame cannot be sent; such a close is counted as
 * 1009 in `/metrics` (see `UWS_TOO_BIG`). docs/security.md has the measurements.
 */
export const MAX_FRAME_BYTES = 64 * 1024;
/** The reason uWS gives its close handler when it refused a message over `maxPayloadLength`. */
const UWS_TOO_BIG = 'Received too big message';
/**
 * A socket with more than this waiting in its send buffer is switched to latest-value delivery
 * (conflating, see `flow` in the actor); below half of it, it has caught up. Also about the most
 * a stalled socket holds: once conflating it gets nothing more until it catches up.
 */
export const SLOW_THRESHOLD_BYTES = 256 * 1024;
/**
 * The hard ceiling per socket. Past it uWS would skip messages for that socket; with
 * closeOnBackpressureLimit it drops the connection instead, so a client never silently misses a
 * tick. Conflation normally keeps a socket far below it, and the 4009 after SLOW_CLOSE_MS comes first.
 */
const MAX_BACKPRESSURE_BYTES = 4 * 1024 * 1024;

export interface SocketRouteDeps {
  config: Config;
  app: TemplatedApp;
  redis: Redis;
  tokens: AccessTokens;
  link: IngestLink;
  leases: SessionSockets;
  registry: SocketRegistry;
  log: Logger;
  /** This worker's id as clients see it in `welcome`. */
  workerId: string;
  carrier: CorkCarrier;
}

/** Registers `/ws`; returns a function that stops the worker's periodic socket checks. */
export function registerSocketRoute(deps: SocketRouteDeps): () => void {
  const { config, app, redis, tokens, link, leases, registry, log, carrier } = deps;
  const limits: Limits = {
    max_tokens_per_socket: config.maxTokensPerSocket,
    max_frame_bytes: MAX_FRAME_BYTES,
    msg_rate: config.msgRate,
    msg_burst: config.msgBurst,
  };
  const settings: ConnectionSettings = Object.freeze({
    heartbeatMs: config.heartbeatMs,
    pongTimeoutMs: config.pongTimeoutMs,
    maxTokens: config.maxTokensPerSocket,
    msgRate: config.msgRate,
    msgBurst: config.msgBurst,
    reauthLeadMs: config.reauthLeadMs,
    slowCloseMs: config.slowCloseMs,
    slowThresholdBytes: SLOW_THRESHOLD_BYTES,
    now: Date.now,
  });
  // The actor's one piece of I/O, supplied here so the machine stays pure. Only a token of the
  // socket's own user is accepted; a Redis outage is `unavailable`, not a bad token.
  const machine = connectionMachine.provide({
    actors: {
      verifyAccess: fromPromise<AuthOutcome, VerifyAccessInput>(async ({ input }) => {
        const r = await authenticateAccess(tokens, redis, input.accessToken);
        if (r.ok) return r.session.userId === input.userId ? { outcome: 'ok', expiresAt: r.expiresAt, sid: r.session.sid } : { outcome: 'rejected' };
        return r.reason === 'unavailable' ? { outcome: 'unavailable' } : { outcome: 'rejected' };
      }),
    },
  });

  // Every connection actor is a child of this one, so they share one xstate system (a root actor
  // gets a system of its own: a few KB per socket). The parent hears each child's end and does
  // nothing with it; the actors end by reaching their final state, never by stop().
  const connections = createActor(fromCallback(() => undefined)).start();
  // The actors' deadlines (heartbeat, auth expiry, slow close), on one timer for the worker.
  const wheel = new WakeWheel<SocketData>(realClock, Date.now, (d) => {
    if (!d.closed) d.actor?.send({ type: 'clock.due' });
  });

  app.ws<SocketData>('/ws', {
    maxPayloadLength: MAX_FRAME_BYTES,
    // Liveness is the connection actor's job (HEARTBEAT_MS / PONG_TIMEOUT_MS), not uWS's.
    idleTimeout: 0,
    sendPingsAutomatically: false,
    maxBackpressure: MAX_BACKPRESSURE_BYTES,
    closeOnBackpressureLimit: 1,
    compression: uws.DISABLED,

    upgrade: upgradeHandler({ config, redis, tokens, leases, registry, log, carrier }),

    open: (ws) => {
      const d = ws.getUserData();
      // Restored from the opening state every connection shares (openingSnapshot: the initial
      // state is resolved once per worker, not per socket); its first wake is scheduled here.
      const input = { settings, expiresAt: d.expiresAt, userId: d.userId, sid: d.sid };
      const opening = openingSnapshot(input);
      const actor = createActor(machine, { parent: connections, input, snapshot: opening.snapshot });
      d.actor = actor;
      actor.on('*', (e) => perform(ws, e as ConnectionEmitted));
      // An unobserved actor error is rethrown in a timer and would kill the worker. A failed actor
      // can decide nothing more, so this is the one close not decided by the actor.
      actor.subscribe({
        error: (err) => {
          connLog(d).error({ err }, 'connection actor failed');
          registry.end(ws, CloseCodes.internal);
        },
      });
      registry.add(ws);
      actor.start();
      wheel.schedule(d, opening.wakeAt);
      d.welcome = {
        type: 'welcome', conn_id: d.connId, user: d.username, worker: deps.workerId,
        heartbeat_ms: config.heartbeatMs, expires_at: d.expiresAt, limits,
      };
      // Not sent from inside `open`: after an async upgrade, `open` runs inside the upgrade's
      // cork, and a send there makes uWS 20.30 drop the new socket now and then (1006 right after
      // the welcome; uWebSockets.js#1108). The next turn of the loop is outside that cork; a
      // client message arriving first sends it before anything else.
      setImmediate(() => sendWelcome(ws));
    },

    message: (ws, message, isBinary) => {
      const actor = ws.getUserData().actor!;
      sendWelcome(ws);
      // uWS enforces the limit before this (see MAX_FRAME_BYTES); kept so that the rule does not
      // depend on one option staying set.
      if (message.byteLength > MAX_FRAME_BYTES) return void actor.send({ type: 'client.oversize' });
      // Each of the events below also proves the client alive (no separate client.frame).
      if (isBinary) {
        actor.send({ type: 'client.invalid', id: undefined, code: 'bad_request', message: 'send JSON text frames' });
        return;
      }
      // The rate budget before any parsing: a flood costs a bucket check per frame, not a JSON.parse.
      if (!hasRateBudget(actor.getSnapshot().context)) return void actor.send({ type: 'client.unread' });
      const decoded = decodeClientMessage(Buffer.from(message).toString('utf8'));
      if (decoded.ok) actor.send({ type: 'client.message', msg: decoded.msg });
      else actor.send({ type: 'client.invalid', id: decoded.id, code: decoded.code === 'unknown_op' ? 'unknown_op' : 'bad_request', message: decoded.message });
    },

    pong: (ws) => {
      ws.getUserData().actor?.send({ type: 'client.frame' });
    },

    drain: (ws) => reportBuffered(ws),

    subscription: (_ws, topic, newCount, oldCount) => {
      link.onTopicCount(Buffer.from(topic).toString('latin1'), newCount, oldCount);
    },

    close: (ws, code, message) => {
      const d = ws.getUserData();
      if (!d.closed && code === 1006 && Buffer.from(message).toString('latin1').startsWith(UWS_TOO_BIG)) {
        registry.countClose(CloseCodes.tooBig.code);
        connLog(d).info({ limit: MAX_FRAME_BYTES }, 'message over the limit: uWS dropped the connection');
      }
      d.closed = true;
      registry.remove(ws);
      leases.release(d.userId, d.connId);
      leases.releaseIp(d.ip, d.connId);
      releaseAllHolds(ws, link);
      wheel.cancel(d);
      // The actor ends in its final state (a child actor cannot be stopped from outside).
      const actor = d.actor;
      if (actor && actor.getSnapshot().status === 'active') actor.send({ type: 'socket.closed' });
      if (log.isLevelEnabled('debug')) connLog(d).debug({ code }, 'socket closed');
    },
  });

  // The send buffer only grows on the tick path, which must stay free of per-socket work, so it
  // is sampled here instead: on a timer, and whenever the link has published SEND_BUDGET_BYTES
  // since the last sample (a burst runs without letting timers in). `drain` reports catching up
  // as soon as it happens.
  const sampleSendBuffers = () => {
    link.sendBuffersSampled();
    for (const ws of registry.all()) reportBuffered(ws);
  };
  link.onSendBudgetSpent = sampleSendBuffers;
  const flowTimer = setInterval(sampleSendBuffers, Math.min(1_000, Math.max(50, Math.floor(config.slowCloseMs / 4))));

  /**
   * Tells the actor how much is buffered. Sockets with nothing buffered, now and at the last
   * report, are skipped: that is nearly every socket, and nothing changed for them.
   */
  function reportBuffered(ws: Socket): void {
    const d = ws.getUserData();
    if (d.closed || !d.actor) return;
    const bytes = ws.getBufferedAmount();
    if (bytes === 0 && d.reportedBytes === 0) return;
    d.reportedBytes = bytes;
    d.actor.send({ type: 'socket.buffered', bytes });
  }

  /**
   * The connection's logger, made when something is logged: a pino child per socket held for the
   * socket's life cost memory on every idle socket for lines that are rarely written.
   */
  function connLog(d: SocketData): Logger {
    return log.child({ conn: d.connId, user: d.username });
  }

  /** Carries out one effect the actor decided on. */
  function perform(ws: Socket, e: ConnectionEmitted): void {
    const d = ws.getUserData();
    if (d.closed) return;
    switch (e.type) {
      case 'effect.wake':
        return wheel.schedule(d, e.at);
      case 'effect.send':
        if (e.message.type === 'error') countWsError(e.message.code);
        return sendMessage(ws, e.message);
      case 'effect.ping':
        ws.ping();
        return;
      case 'effect.close':
        if (e.close.code === CloseCodes.slowConsumer.code) connLog(d).info({ buffered: ws.getBufferedAmount() }, 'slow consumer closed');
        return registry.end(ws, e.close);
      case 'effect.subscribe':
        return subscribe(ws, e, { link, redis });
      case 'effect.unsubscribe':
        return unsubscribe(ws, e, link);
      case 'effect.conflate':
        countConflation();
        connLog(d).info({ buffered: ws.getBufferedAmount(), tokens: e.tokens.length }, 'socket behind: conflating');
        return conflate(ws, link, e.tokens);
      case 'effect.catchUp':
        return catchUp(ws, link, e.subscriptions);
      case 'effect.sessionChanged':
        // A token of another session of the same user (a fresh login): from now on that session's
        // revocation, not the old one's, closes the socket.
        return registry.moveSession(ws, e.sid);
    }
  }

  return () => {
    clearInterval(flowTimer);
    link.onSendBudgetSpent = undefined;
    wheel.close();
  };
}

/** Node's timers for the wheel. A wait past setTimeout's limit wakes early, finds nothing due and waits again. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const realClock = {
  setTimeout: (fn: () => void, ms: number) => setTimeout(fn, Math.min(ms, MAX_TIMER_MS)),
  clearTimeout: (id: unknown) => clearTimeout(id as NodeJS.Timeout),
};

function sendWelcome(ws: Socket): void {
  const d = ws.getUserData();
  const welcome = d.welcome;
  if (!welcome || d.closed) return;
  d.welcome = undefined;
  ws.cork(() => sendMessage(ws, welcome));
}
