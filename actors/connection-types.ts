/**
 * What goes into and comes out of a connection actor: its input, context, the events the gateway
 * sends it and the effects it emits for the gateway to carry out.
 */
import type { ClientMessage, Rejected, RequestId } from '../src/protocol/client-messages.ts';
import type { CloseCode } from '../src/protocol/close-codes.ts';
import type { ServerMessage } from '../src/protocol/server-messages.ts';
import type { Mode } from '../src/protocol/tick.ts';

/**
 * What every connection of a worker shares: its limits and its clock. One object for all actors,
 * held by reference in each context (copied into every context, these fields would be copied again
 * on every context update of every socket).
 */
export interface ConnectionSettings {
  heartbeatMs: number;
  pongTimeoutMs: number;
  maxTokens: number;
  msgRate: number;
  msgBurst: number;
  reauthLeadMs: number;
  /** How long the socket may stay behind (send buffer over the threshold) before it is closed 4009. */
  slowCloseMs: number;
  /** A send buffer above this is behind; it has caught up again below half of it. */
  slowThresholdBytes: number;
  /** Milliseconds since the epoch, on the same clock the actor's deadlines are on. */
  now: () => number;
}

export interface ConnectionInput {
  settings: ConnectionSettings;
  /** When the access token the socket was opened with expires (ms epoch). */
  expiresAt: number;
  userId: string;
  /** The session the socket belongs to: its revocation closes the socket. */
  sid: string;
}

/** One token's subscription: its mode and its effective throttle interval (0: every tick). */
export interface Subscription { mode: Mode; throttleMs: number }

export interface ConnectionContext extends ConnectionInput {
  lastSeenAt: number;
  /**
   * Deadlines (ms, on `now`'s clock) of the regions that wait for time, Infinity when one waits for
   * nothing: liveness (the next ping, or the silence close), auth (reauth, or expiry) and flow (the
   * slow close). The actor asks to be woken at the earliest (`effect.wake`) and compares them with
   * `now()` on `clock.due`.
   */
  livenessDue: number;
  authDue: number;
  flowDue: number;
  subscriptions: ReadonlyMap<number, Subscription>;
  /** True while the socket is off its live topics and served newest values only (flow state). */
  conflating: boolean;
  /** Token bucket of client messages. */
  bucket: number;
  bucketAt: number;
  /** Decaying count of rate-limited messages; a flood that keeps it high is closed 4008. */
  strikes: number;
  strikesAt: number;
  /**
   * When the current run of over-rate messages began: set at a rate_limited answer, cleared once
   * the client has rested (its bucket refilled to half). A run lasting RATE_ABUSE_MS closes 4008,
   * so any sustained rate above MSG_RATE is closed, however slight (the strikes above only catch
   * floods).
   */
  overRateSince: number | undefined;
  /** The id of the `auth` op being verified, echoed on its answer. */
  authId: RequestId;
}

/** What verifying an in-band access token found (the `verifyAccess` actor's output). */
export type AuthOutcome =
  | { outcome: 'ok'; expiresAt: number; sid: string }
  /** Invalid, expired, revoked, or a token of another user. */
  | { outcome: 'rejected' }
  /** A dependency (Redis) is down: nothing is known about the token. */
  | { outcome: 'unavailable' };

export interface VerifyAccessInput { accessToken: string; userId: string }

export type ConnectionEvent =
  /** The time asked for with `effect.wake` has come (or passed): check the deadlines. */
  | { type: 'clock.due' }
  /** A frame from the client other than a message (a pong) proves it alive; so does every message event. */
  | { type: 'client.frame' }
  | { type: 'client.message'; msg: ClientMessage }
  /** A message that failed to decode still counts against the rate. */
  | { type: 'client.invalid'; id: RequestId; code: 'bad_request' | 'unknown_op'; message: string }
  /**
   * A message the gateway did not even decode because the socket had no rate budget left (the
   * bucket is checked before JSON parsing); answered rate_limited like any over-rate message.
   */
  | { type: 'client.unread' }
  /** A message over the frame limit (§6: 1009). */
  | { type: 'client.oversize' }
  /** Raised by the actor itself for an `auth` op that passed the rate limit. */
  | { type: 'auth.requested'; id: RequestId; accessToken: string }
  /** A fresh access token was verified for this socket's user (normally raised by the auth check). */
  | { type: 'auth.verified'; id: RequestId; expiresAt: number }
  /** The socket's send buffer, sampled by the gateway (only while something is or was buffered). */
  | { type: 'socket.buffered'; bytes: number }
  /** The server wants this socket gone (logout, operator disconnect…). */
  | { type: 'server.close'; close: CloseCode }
  /** The server is stopping: tell the client when to come back, then close 1001. */
  | { type: 'server.drain'; reconnectAfterMs: number }
  | { type: 'socket.closed' };

export type ConnectionEmitted =
  /** Send `clock.due` at `at` (ms on `now`'s clock), instead of whenever it was asked for before. */
  | { type: 'effect.wake'; at: number }
  | { type: 'effect.send'; message: ServerMessage }
  | { type: 'effect.ping' }
  | { type: 'effect.close'; close: CloseCode }
  | {
      type: 'effect.subscribe'; id: RequestId; tokens: number[]; sub: Subscription; rejected: Rejected[];
      /** Tokens that were already subscribed, with the subscription they leave (another mode or throttle). */
      changed: { token: number; from: Subscription }[];
      /** Tokens that were already subscribed exactly so: nothing to do for them. */
      unchanged: number[];
      /** True while conflating: record only; the newest values follow when the socket catches up. */
      deferred: boolean;
      msg: Extract<ClientMessage, { op: 'subscribe' }>;
    }
  | {
      type: 'effect.unsubscribe'; id: RequestId; tokens: number[]; rejected: Rejected[];
      removed: { token: number; sub: Subscription }[]; deferred: boolean;
    }
  /** Too far behind: take the socket off its live topics; the worker keeps each token's newest value. */
  | { type: 'effect.conflate'; tokens: number[] }
  /** Caught up: send the newest value of every subscribed token, then put the socket back on its topics. */
  | { type: 'effect.catchUp'; subscriptions: ReadonlyMap<number, Subscription> }
  /** The socket now belongs to another session of the same user (an `auth` with a fresh login's token). */
  | { type: 'effect.sessionChanged'; sid: string };
