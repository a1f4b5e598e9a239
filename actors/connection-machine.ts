/**
 * The lifecycle of one WebSocket connection: liveness (heartbeat), access-token expiry and in-band
 * re-authentication, the client's message rate, subscription bookkeeping and limits, flow (is the
 * client keeping up with its ticks), and every way the connection can be closed.
 *
 * Pure: no sockets, no Redis, no wall clock. Time comes from the injected `now()` and `clock.due`:
 * regions keep their deadlines in the context, the actor asks to be woken at the earliest
 * (`effect.wake`) and guards compare deadlines with `now()` (no xstate `after`: why, in
 * src/gateway/wake-wheel.ts; tests drive that wheel with a SimulatedClock). Every effect leaves as an
 * emitted `effect.*` event that the gateway carries out; the one piece of I/O it waits for, verifying an
 * in-band access token, is the invoked `verifyAccess` actor the gateway supplies with `.provide()`.
 * Every close is decided here, so the gateway counts closes in one place. Ticks never pass through.
 */
import { assign, createActor, emit, enqueueActions, fromPromise, raise, setup, type Snapshot } from 'xstate';
import { CloseCodes, type CloseCode } from '../src/protocol/close-codes.ts';
import type { Mode } from '../src/protocol/tick.ts';
import {
  decayedStrikes, errorMessage, idField, markOverRate, planSubscribe, planUnsubscribe, refill, requestIdOf, restCheck, setDue, NO_SUBSCRIPTIONS, strike, strikeLimit, sustainedAbuse, take,
} from './connection-rules.ts';
import type {
  AuthOutcome, ConnectionContext, ConnectionEmitted, ConnectionEvent, ConnectionInput, ConnectionSettings, VerifyAccessInput,
} from './connection-types.ts';

export type * from './connection-types.ts';
export { planSubscribe } from './connection-rules.ts';

/** The context a connection starts with. */
function initialContext(input: ConnectionInput): ConnectionContext {
  const now = input.settings.now();
  return {
    ...input,
    lastSeenAt: now,
    livenessDue: now + input.settings.heartbeatMs,
    authDue: input.expiresAt - input.settings.reauthLeadMs,
    flowDue: Number.POSITIVE_INFINITY,
    subscriptions: NO_SUBSCRIPTIONS,
    bucket: input.settings.msgBurst,
    bucketAt: now,
    strikes: 0,
    strikesAt: now,
    overRateSince: undefined,
    authId: undefined,
    conflating: false,
  };
}

export const connectionMachine = setup({
  types: {
    context: {} as ConnectionContext,
    events: {} as ConnectionEvent,
    input: {} as ConnectionInput,
    emitted: {} as ConnectionEmitted,
  },
  actors: {
    // Supplied by the gateway (JWT + session check). Unprovided, every token is unverifiable.
    verifyAccess: fromPromise<AuthOutcome, VerifyAccessInput>(async () => ({ outcome: 'unavailable' })),
  },
  actions: {
    touch: assign({ lastSeenAt: ({ context }) => context.settings.now() }),
    // Each deadline is set on entering the state that waits for it (see setDue); the initial
    // context already holds the first ones, so opening a socket copies no context for them.
    // The next ping, HEARTBEAT_MS after the last one was answered (or the socket opened).
    duePing: enqueueActions(({ context: c, enqueue }) => setDue(c, enqueue, 'livenessDue', c.settings.now() + c.settings.heartbeatMs)),
    // An absolute deadline from the last frame, so the close comes after exactly HEARTBEAT_MS +
    // PONG_TIMEOUT_MS of silence however the ping and the frames interleave.
    dueSilence: enqueueActions(({ context: c, enqueue }) => setDue(c, enqueue, 'livenessDue', c.lastSeenAt + c.settings.heartbeatMs + c.settings.pongTimeoutMs)),
    dueReauth: enqueueActions(({ context: c, enqueue }) => setDue(c, enqueue, 'authDue', c.expiresAt - c.settings.reauthLeadMs)),
    dueExpiry: enqueueActions(({ context: c, enqueue }) => setDue(c, enqueue, 'authDue', c.expiresAt)),
    dueSlowClose: enqueueActions(({ context: c, enqueue }) => setDue(c, enqueue, 'flowDue', c.settings.now() + c.settings.slowCloseMs)),
    noFlowDue: enqueueActions(({ context: c, enqueue }) => setDue(c, enqueue, 'flowDue', Number.POSITIVE_INFINITY)),
    ping: emit({ type: 'effect.ping' }),
    closeWith: emit((_, close: CloseCode) => ({ type: 'effect.close', close })),
    handle: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'client.message') return;
      const msg = event.msg;
      switch (msg.op) {
        case 'subscribe': {
          const plan = planSubscribe(context.subscriptions, msg, context.settings.maxTokens);
          if (!plan.ok) {
            enqueue.emit(errorMessage(msg.id, 'limit_exceeded', `at most ${context.settings.maxTokens} tokens per socket`));
            return;
          }
          enqueue.assign({ subscriptions: plan.next });
          enqueue.emit({
            type: 'effect.subscribe', id: msg.id, tokens: msg.tokens, sub: plan.sub, rejected: msg.rejected,
            changed: plan.changed, unchanged: plan.unchanged, deferred: context.conflating, msg,
          });
          return;
        }
        case 'unsubscribe': {
          const { next, removed } = planUnsubscribe(context.subscriptions, msg.tokens);
          if (removed.length > 0) enqueue.assign({ subscriptions: next });
          enqueue.emit({ type: 'effect.unsubscribe', id: msg.id, tokens: msg.tokens, rejected: msg.rejected, removed, deferred: context.conflating });
          return;
        }
        case 'list': {
          const tokens: Record<string, Mode> = {};
          for (const [t, sub] of context.subscriptions) tokens[String(t)] = sub.mode;
          enqueue.emit({ type: 'effect.send', message: { type: 'subscriptions', ...idField(msg.id), tokens } });
          return;
        }
        case 'ping':
          enqueue.emit({ type: 'effect.send', message: { type: 'pong', ...idField(msg.id), ts: context.settings.now() } });
          return;
        case 'auth':
          enqueue.raise({ type: 'auth.requested', id: msg.id, accessToken: msg.accessToken });
          return;
      }
    }),
  },
  guards: {
    livenessDue: ({ context }) => context.settings.now() >= context.livenessDue,
    authDue: ({ context }) => context.settings.now() >= context.authDue,
    flowDue: ({ context }) => context.settings.now() >= context.flowDue,
    withinRate: ({ context }) => refill({ context }).bucket >= 1,
    floodOverLimit: ({ context }) => decayedStrikes(context) + 1 >= strikeLimit(context.settings.msgBurst) || sustainedAbuse(context),
    overThreshold: ({ context, event }) => event.type === 'socket.buffered' && event.bytes > context.settings.slowThresholdBytes,
    caughtUp: ({ context, event }) => event.type === 'socket.buffered' && event.bytes < context.settings.slowThresholdBytes / 2,
  },
}).createMachine({
  id: 'connection',
  context: ({ input }) => initialContext(input),
  initial: 'open',
  states: {
    open: {
      type: 'parallel',
      on: {
        'server.close': { target: 'closed', actions: emit(({ event }) => ({ type: 'effect.close', close: event.close })) },
        'server.drain': {
          target: 'closed',
          actions: [
            emit(({ event }) => ({ type: 'effect.send', message: { type: 'shutdown', reconnect_after_ms: event.reconnectAfterMs } })),
            { type: 'closeWith', params: CloseCodes.goingAway },
          ],
        },
        // Checked before the message is read at all: an oversize message is never parsed (§6: 1009).
        'client.oversize': { target: 'closed', actions: { type: 'closeWith', params: CloseCodes.tooBig } },
        'socket.closed': { target: 'closed' },
      },
      states: {
        liveness: {
          initial: 'idle',
          states: {
            // A pong or a message of any kind proves the client alive: one event per message. (Not
            // `client.*`: a region handling client.oversize would keep `open` from closing 1009.)
            idle: {
              entry: 'duePing',
              on: {
                'client.frame': { actions: 'touch' }, 'client.message': { actions: 'touch' },
                'client.invalid': { actions: 'touch' }, 'client.unread': { actions: 'touch' },
                'clock.due': { guard: 'livenessDue', target: 'awaitingPong', actions: 'ping' },
              },
            },
            awaitingPong: {
              entry: 'dueSilence',
              on: {
                'client.frame': { target: 'idle', actions: 'touch' },
                // Raised, not a transition out: that would outrank a 4008 decided for the same message.
                'client.message': { actions: raise({ type: 'client.frame' }) },
                'client.invalid': { actions: raise({ type: 'client.frame' }) },
                'client.unread': { actions: raise({ type: 'client.frame' }) },
                'clock.due': { guard: 'livenessDue', target: '#connection.closed', actions: { type: 'closeWith', params: CloseCodes.heartbeatTimeout } },
              },
            },
          },
        },
        // Access-token expiry: `reauth` REAUTH_LEAD_MS before it, 4001 at it, unless a fresh token
        // was verified meanwhile.
        auth: {
          initial: 'valid',
          states: {
            valid: {
              entry: 'dueReauth',
              on: {
                'clock.due': {
                  guard: 'authDue',
                  target: 'expiring',
                  actions: emit(({ context }) => ({ type: 'effect.send', message: { type: 'reauth', expires_at: context.expiresAt } })),
                },
              },
            },
            expiring: {
              entry: 'dueExpiry',
              on: {
                'clock.due': { guard: 'authDue', target: '#connection.closed', actions: { type: 'closeWith', params: CloseCodes.tokenExpired } },
              },
            },
          },
          on: {
            'auth.verified': {
              // reenter sets the reauth deadline again, from the new expiry.
              target: '.valid',
              reenter: true,
              actions: [
                assign({ expiresAt: ({ event }) => event.expiresAt }),
                emit(({ event }) => ({ type: 'effect.send', message: { type: 'auth_ok', ...idField(event.id), expires_at: event.expiresAt } })),
              ],
            },
          },
        },
        // In-band `auth`: one verification at a time; the socket and its current token stay as they
        // are whatever the outcome, and a dependency failure is `unavailable`, never "invalid".
        authCheck: {
          initial: 'idle',
          states: {
            idle: {
              on: {
                'auth.requested': {
                  target: 'verifying',
                  actions: assign({ authId: ({ event }) => event.id }),
                },
              },
            },
            verifying: {
              invoke: {
                src: 'verifyAccess',
                input: ({ context, event }) => ({ accessToken: (event as Extract<ConnectionEvent, { type: 'auth.requested' }>).accessToken, userId: context.userId }),
                onDone: {
                  target: 'idle',
                  actions: enqueueActions(({ context, event, enqueue }) => {
                    const r = event.output;
                    if (r.outcome === 'ok') {
                      if (r.sid !== context.sid) {
                        enqueue.assign({ sid: r.sid });
                        enqueue.emit({ type: 'effect.sessionChanged', sid: r.sid });
                      }
                      enqueue.raise({ type: 'auth.verified', id: context.authId, expiresAt: r.expiresAt });
                    } else if (r.outcome === 'rejected') {
                      enqueue.emit(errorMessage(context.authId, 'bad_request', 'access_token is invalid or belongs to another user'));
                    } else {
                      enqueue.emit(errorMessage(context.authId, 'unavailable', 'the token cannot be checked right now; retry shortly'));
                    }
                  }),
                },
                onError: {
                  target: 'idle',
                  actions: emit(({ context }) => errorMessage(context.authId, 'unavailable', 'the token cannot be checked right now; retry shortly')),
                },
              },
              on: {
                'auth.requested': {
                  actions: emit(({ event }) => errorMessage(event.id, 'bad_request', 'an auth is already being verified')),
                },
              },
            },
          },
        },
        // A client that cannot keep up with its ticks. The gateway samples the send buffer; above
        // the threshold the socket switches to latest-value delivery (conflating): it leaves its
        // live topics, so nothing more queues up for it, and the client is told. Below half the
        // threshold (hysteresis, so a buffer hovering at the line does not flap) it gets the newest
        // value of every token, then `live`, and rejoins its topics. Still behind after
        // SLOW_CLOSE_MS → 4009.
        flow: {
          initial: 'keepingUp',
          states: {
            keepingUp: { entry: 'noFlowDue', on: { 'socket.buffered': { guard: 'overThreshold', target: 'conflating' } } },
            conflating: {
              entry: [
                'dueSlowClose',
                assign({ conflating: true }),
                emit({ type: 'effect.send', message: { type: 'status', state: 'conflating' } }),
                emit(({ context }) => ({ type: 'effect.conflate', tokens: [...context.subscriptions.keys()] })),
              ],
              on: {
                'socket.buffered': {
                  guard: 'caughtUp',
                  target: 'keepingUp',
                  actions: [
                    assign({ conflating: false }),
                    emit(({ context }) => ({ type: 'effect.catchUp', subscriptions: context.subscriptions })),
                    emit({ type: 'effect.send', message: { type: 'status', state: 'live' } }),
                  ],
                },
                'clock.due': { guard: 'flowDue', target: '#connection.closed', actions: { type: 'closeWith', params: CloseCodes.slowConsumer } },
              },
            },
          },
        },
        requests: {
          on: {
            'client.message': [
              { guard: 'withinRate', actions: [assign(refill), assign(restCheck), assign(take), 'handle'] },
              { guard: 'floodOverLimit', target: '#connection.closed', actions: { type: 'closeWith', params: CloseCodes.rateLimited } },
              { actions: [assign(refill), assign(strike), assign(markOverRate), emit(({ event }) => errorMessage(requestIdOf(event), 'rate_limited', 'too many messages; slow down'))] },
            ],
            'client.invalid': [
              { guard: 'withinRate', actions: [assign(refill), assign(restCheck), assign(take), emit(({ event }) => errorMessage(event.id, event.code, event.message))] },
              { guard: 'floodOverLimit', target: '#connection.closed', actions: { type: 'closeWith', params: CloseCodes.rateLimited } },
              { actions: [assign(refill), assign(strike), assign(markOverRate), emit(({ event }) => errorMessage(event.id, 'rate_limited', 'too many messages; slow down'))] },
            ],
            // The gateway saw no budget and did not parse the frame, so there is no id to echo.
            'client.unread': [
              { guard: 'floodOverLimit', target: '#connection.closed', actions: { type: 'closeWith', params: CloseCodes.rateLimited } },
              { actions: [assign(refill), assign(strike), assign(markOverRate), emit(() => errorMessage(undefined, 'rate_limited', 'too many messages; slow down'))] },
            ],
          },
        },
      },
    },
    closed: { type: 'final' },
  },
});

/** The state value and the rest of a started connection, less its context: the same for every socket. */
let openingState: Omit<Snapshot<unknown>, 'context'> & Record<string, unknown> | undefined;

/**
 * What `createActor(connectionMachine, { input }).start()` arrives at, for
 * `createActor(machine, { snapshot }).start()` — and the first wake its entry actions ask for
 * (their only effect: the deadlines are already in the initial context). Resolving the initial
 * state of a parallel machine is xstate's most expensive step for a new socket (~40 µs of the
 * ~60 µs a fresh actor costs, measured; a connect storm spent 11 % of its gateway CPU creating
 * actors); the state is the same for every connection, so it is resolved once, here, by
 * starting one actor, and each socket restores it with its own context. The connection-machine
 * tests run every case on actors opened this way, and check it against a fresh start.
 */
export function openingSnapshot(input: ConnectionInput): { snapshot: Snapshot<unknown>; wakeAt: number } {
  openingState ??= resolveOpeningState();
  const context = initialContext(input);
  return {
    snapshot: { ...openingState, context } as Snapshot<unknown>,
    wakeAt: Math.min(context.livenessDue, context.authDue, context.flowDue),
  };
}

function resolveOpeningState(): NonNullable<typeof openingState> {
  const settings: ConnectionSettings = {
    heartbeatMs: 1, pongTimeoutMs: 1, maxTokens: 1, msgRate: 1, msgBurst: 1, reauthLeadMs: 0, slowCloseMs: 1, slowThresholdBytes: 1, now: () => 0,
  };
  const actor = createActor(connectionMachine, { input: { settings, expiresAt: 1, userId: '', sid: '' } }).start();
  const { context: _context, ...rest } = actor.getPersistedSnapshot() as Snapshot<unknown> & { context: unknown };
  actor.send({ type: 'socket.closed' });
  return deepFreeze(rest) as NonNullable<typeof openingState>;
}

/** Shared by every socket's snapshot: frozen, so that nothing can change one socket's through another. */
function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
