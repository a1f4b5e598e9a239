/**
 * The lifecycle of one WebSocket connection: liveness (heartbeat), access-token expiry, the
 * client's message rate, subscription bookkeeping and limits, and closing.
 *
 * Pure: no sockets, no Redis, no wall clock. Time comes from the actor's clock (delays) and the
 * injected `now()`, so tests drive it with a SimulatedClock. Every effect leaves as an emitted
 * `effect.*` event that the gateway carries out. Ticks never pass through here.
 */
import { assign, emit, enqueueActions, setup } from 'xstate';
import type { ClientMessage, Rejected, RequestId } from '../src/protocol/client-messages.ts';
import { CloseCodes, type CloseCode } from '../src/protocol/close-codes.ts';
import type { ServerMessage } from '../src/protocol/server-messages.ts';
import { DEFAULT_MODE, type Mode } from '../src/protocol/tick.ts';

export interface ConnectionInput {
  heartbeatMs: number;
  pongTimeoutMs: number;
  maxTokens: number;
  msgRate: number;
  msgBurst: number;
  reauthLeadMs: number;
  /** How long the socket may stay behind (send buffer over the threshold) before it is closed 4009. */
  slowCloseMs: number;
  /** When the access token the socket was opened with expires (ms epoch). */
  expiresAt: number;
  userId: string;
  /** Milliseconds since the epoch, on the same clock the actor's timers run on. */
  now: () => number;
}

export interface ConnectionContext extends Omit<ConnectionInput, 'now'> {
  now: () => number;
  lastSeenAt: number;
  subscriptions: ReadonlyMap<number, Mode>;
  /** Token bucket of client messages. */
  bucket: number;
  bucketAt: number;
  /** Decaying count of rate-limited messages; a flood that keeps it high is closed 4008. */
  strikes: number;
  strikesAt: number;
}

export type ConnectionEvent =
  /** Any frame from the client (message or pong) proves it alive. */
  | { type: 'client.frame' }
  | { type: 'client.message'; msg: ClientMessage }
  /** A message that failed to decode still counts against the rate. */
  | { type: 'client.invalid'; id: RequestId; code: 'bad_request' | 'unknown_op'; message: string }
  /** The gateway verified the token of an `auth` op (same user, valid signature). */
  | { type: 'auth.verified'; id: RequestId; expiresAt: number }
  | { type: 'auth.rejected'; id: RequestId }
  /** The socket's send buffer went over / back under the slow-consumer threshold. */
  | { type: 'socket.behind' }
  | { type: 'socket.caughtUp' }
  /** The server wants this socket gone (logout, drain, operator disconnect…). */
  | { type: 'server.close'; close: CloseCode }
  | { type: 'socket.closed' };

export type ConnectionEmitted =
  | { type: 'effect.send'; message: ServerMessage }
  | { type: 'effect.ping' }
  | { type: 'effect.close'; close: CloseCode }
  | {
      type: 'effect.subscribe'; id: RequestId; tokens: number[]; mode: Mode; rejected: Rejected[];
      /** Tokens that were already subscribed, with the mode they leave. */
      modeChanged: { token: number; from: Mode }[];
      msg: Extract<ClientMessage, { op: 'subscribe' }>;
    }
  | { type: 'effect.unsubscribe'; id: RequestId; tokens: number[]; rejected: Rejected[]; removed: { token: number; mode: Mode }[] }
  | { type: 'effect.verifyAuth'; id: RequestId; accessToken: string };

/** Strikes halve every second; this many means a flood, not a burst. */
const STRIKE_HALF_LIFE_MS = 1_000;
const strikeLimit = (burst: number) => 2 * burst;

type SubscribeMsg = Extract<ClientMessage, { op: 'subscribe' }>;

export const connectionMachine = setup({
  types: {
    context: {} as ConnectionContext,
    events: {} as ConnectionEvent,
    input: {} as ConnectionInput,
    emitted: {} as ConnectionEmitted,
  },
  delays: {
    heartbeat: ({ context }) => context.heartbeatMs,
    // Absolute deadline from the last frame, so the close comes after exactly HEARTBEAT_MS +
    // PONG_TIMEOUT_MS of silence however the ping timer and the frames interleave.
    pongDeadline: ({ context }) =>
      Math.max(0, context.lastSeenAt + context.heartbeatMs + context.pongTimeoutMs - context.now()),
    untilReauth: ({ context }) => Math.max(0, context.expiresAt - context.reauthLeadMs - context.now()),
    untilExpiry: ({ context }) => Math.max(0, context.expiresAt - context.now()),
    slowClose: ({ context }) => context.slowCloseMs,
  },
  actions: {
    touch: assign({ lastSeenAt: ({ context }) => context.now() }),
    ping: emit({ type: 'effect.ping' }),
    closeWith: emit((_, close: CloseCode) => ({ type: 'effect.close', close })),
    handle: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'client.message') return;
      const msg = event.msg;
      switch (msg.op) {
        case 'subscribe': {
          const plan = planSubscribe(context.subscriptions, msg, context.maxTokens);
          if (!plan.ok) {
            enqueue.emit(errorMessage(msg.id, 'limit_exceeded', `at most ${context.maxTokens} tokens per socket`));
            return;
          }
          enqueue.assign({ subscriptions: plan.next });
          enqueue.emit({
            type: 'effect.subscribe', id: msg.id, tokens: msg.tokens, mode: plan.mode, rejected: msg.rejected,
            modeChanged: plan.modeChanged, msg,
          });
          return;
        }
        case 'unsubscribe': {
          const next = new Map(context.subscriptions);
          const removed: { token: number; mode: Mode }[] = [];
          for (const token of msg.tokens) {
            const mode = next.get(token);
            if (mode === undefined) continue;
            next.delete(token);
            removed.push({ token, mode });
          }
          if (removed.length > 0) enqueue.assign({ subscriptions: next });
          enqueue.emit({ type: 'effect.unsubscribe', id: msg.id, tokens: msg.tokens, rejected: msg.rejected, removed });
          return;
        }
        case 'list': {
          const tokens: Record<string, Mode> = {};
          for (const [t, m] of context.subscriptions) tokens[String(t)] = m;
          enqueue.emit({ type: 'effect.send', message: { type: 'subscriptions', ...idField(msg.id), tokens } });
          return;
        }
        case 'ping':
          enqueue.emit({ type: 'effect.send', message: { type: 'pong', ...idField(msg.id), ts: context.now() } });
          return;
        case 'auth':
          enqueue.emit({ type: 'effect.verifyAuth', id: msg.id, accessToken: msg.accessToken });
          return;
      }
    }),
  },
  guards: {
    withinRate: ({ context }) => refill({ context }).bucket >= 1,
    floodOverLimit: ({ context }) => decayedStrikes(context) + 1 >= strikeLimit(context.msgBurst),
  },
}).createMachine({
  id: 'connection',
  context: ({ input }) => ({
    ...input,
    lastSeenAt: input.now(),
    subscriptions: new Map(),
    bucket: input.msgBurst,
    bucketAt: input.now(),
    strikes: 0,
    strikesAt: input.now(),
  }),
  initial: 'open',
  states: {
    open: {
      type: 'parallel',
      on: {
        'server.close': { target: 'closed', actions: emit(({ event }) => ({ type: 'effect.close', close: event.close })) },
        'socket.closed': { target: 'closed' },
      },
      states: {
        liveness: {
          initial: 'idle',
          states: {
            idle: {
              on: { 'client.frame': { actions: 'touch' } },
              after: { heartbeat: { target: 'awaitingPong', actions: 'ping' } },
            },
            awaitingPong: {
              on: { 'client.frame': { target: 'idle', actions: 'touch' } },
              after: {
                pongDeadline: { target: '#connection.closed', actions: { type: 'closeWith', params: CloseCodes.heartbeatTimeout } },
              },
            },
          },
        },
        auth: {
          initial: 'valid',
          states: {
            valid: {
              after: {
                untilReauth: {
                  target: 'expiring',
                  actions: emit(({ context }) => ({
                    type: 'effect.send',
                    message: { type: 'reauth', expires_at: context.expiresAt },
                  })),
                },
              },
            },
            expiring: {
              after: {
                untilExpiry: { target: '#connection.closed', actions: { type: 'closeWith', params: CloseCodes.tokenExpired } },
              },
            },
          },
          on: {
            'auth.verified': {
              // reenter restarts the reauth timer with the new expiry.
              target: '.valid',
              reenter: true,
              actions: [
                assign({ expiresAt: ({ event }) => event.expiresAt }),
                emit(({ event }) => ({
                  type: 'effect.send',
                  message: { type: 'auth_ok', ...idField(event.id), expires_at: event.expiresAt },
                })),
              ],
            },
            'auth.rejected': {
              actions: emit(({ event }) => errorMessage(event.id, 'bad_request', 'access_token is invalid or belongs to another user')),
            },
          },
        },
        // A client that cannot keep up with its ticks: the gateway reports when its send buffer
        // passes the threshold and when it is back under. Behind for SLOW_CLOSE_MS → 4009.
        // (Latest-value conflation, a later release, goes between the two states.)
        flow: {
          initial: 'keepingUp',
          states: {
            keepingUp: { on: { 'socket.behind': 'behind' } },
            behind: {
              on: { 'socket.caughtUp': 'keepingUp' },
              after: { slowClose: { target: '#connection.closed', actions: { type: 'closeWith', params: CloseCodes.slowConsumer } } },
            },
          },
        },
        requests: {
          on: {
            'client.message': [
              { guard: 'withinRate', actions: [assign(refill), assign(take), 'handle'] },
              { guard: 'floodOverLimit', target: '#connection.closed', actions: { type: 'closeWith', params: CloseCodes.rateLimited } },
              { actions: [assign(refill), assign(strike), emit(({ event }) => errorMessage(requestIdOf(event), 'rate_limited', 'too many messages; slow down'))] },
            ],
            'client.invalid': [
              { guard: 'withinRate', actions: [assign(refill), assign(take), emit(({ event }) => errorMessage(event.id, event.code, event.message))] },
              { guard: 'floodOverLimit', target: '#connection.closed', actions: { type: 'closeWith', params: CloseCodes.rateLimited } },
              { actions: [assign(refill), assign(strike), emit(({ event }) => errorMessage(event.id, 'rate_limited', 'too many messages; slow down'))] },
            ],
          },
        },
      },
    },
    closed: { type: 'final' },
  },
});

// Helpers used by the machine. They compute; they never perform I/O.

function idField(id: RequestId): { id?: RequestId } {
  return id === undefined ? {} : { id };
}

function errorMessage(id: RequestId, code: 'bad_request' | 'unknown_op' | 'limit_exceeded' | 'rate_limited', message: string): ConnectionEmitted {
  return { type: 'effect.send', message: { type: 'error', ...idField(id), code, message } };
}

function requestIdOf(event: ConnectionEvent): RequestId {
  return event.type === 'client.message' ? event.msg.id : undefined;
}

function refill(args: { context: ConnectionContext }): Pick<ConnectionContext, 'bucket' | 'bucketAt'> {
  const { context: c } = args;
  const now = c.now();
  const bucket = Math.min(c.msgBurst, c.bucket + ((now - c.bucketAt) * c.msgRate) / 1000);
  return { bucket, bucketAt: now };
}

function take(args: { context: ConnectionContext }): Pick<ConnectionContext, 'bucket'> {
  return { bucket: args.context.bucket - 1 };
}

function decayedStrikes(c: ConnectionContext): number {
  return c.strikes * 0.5 ** ((c.now() - c.strikesAt) / STRIKE_HALF_LIFE_MS);
}

function strike(args: { context: ConnectionContext }): Pick<ConnectionContext, 'strikes' | 'strikesAt'> {
  return { strikes: decayedStrikes(args.context) + 1, strikesAt: args.context.now() };
}

export function planSubscribe(subs: ReadonlyMap<number, Mode>, msg: SubscribeMsg, maxTokens: number) {
  const mode = msg.mode ?? DEFAULT_MODE;
  const added = msg.tokens.filter((t) => !subs.has(t));
  if (subs.size + added.length > maxTokens) return { ok: false as const };
  const modeChanged = msg.tokens.flatMap((t) => {
    const from = subs.get(t);
    return from !== undefined && from !== mode ? [{ token: t, from }] : [];
  });
  const next = new Map(subs);
  for (const t of msg.tokens) next.set(t, mode);
  return { ok: true as const, mode, next, modeChanged };
}
