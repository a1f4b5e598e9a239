/**
 * The arithmetic of a connection's rules: the message-rate token bucket with its decaying
 * strikes, subscription planning against the token limit, and the deadlines the actor asks to be
 * woken for. Pure functions of the context.
 */
import type { ClientMessage, RequestId } from '../src/protocol/client-messages.ts';
import type { ErrorCode } from '../src/protocol/error-codes.ts';
import { effectiveThrottleMs } from '../src/protocol/throttle.ts';
import { DEFAULT_MODE } from '../src/protocol/tick.ts';
import type { ConnectionContext, ConnectionEmitted, ConnectionEvent, Subscription } from './connection-types.ts';

/** Every socket starts with no subscriptions; the first subscribe makes its own map. */
export const NO_SUBSCRIPTIONS: ReadonlyMap<number, Subscription> = new Map();

/** Strikes halve every second; this many means a flood, not a burst. */
const STRIKE_HALF_LIFE_MS = 1_000;
export const strikeLimit = (burst: number) => 2 * burst;

type SubscribeMsg = Extract<ClientMessage, { op: 'subscribe' }>;
type WsErrorCode = Extract<ErrorCode, 'bad_request' | 'unknown_op' | 'limit_exceeded' | 'rate_limited' | 'unavailable'>;

export function idField(id: RequestId): { id?: RequestId } {
  return id === undefined ? {} : { id };
}

export function errorMessage(id: RequestId, code: WsErrorCode, message: string): ConnectionEmitted {
  return { type: 'effect.send', message: { type: 'error', ...idField(id), code, message } };
}

export function requestIdOf(event: ConnectionEvent): RequestId {
  if (event.type === 'client.message') return event.msg.id;
  if (event.type === 'client.invalid') return event.id;
  return undefined;
}

export function refill(args: { context: ConnectionContext }): Pick<ConnectionContext, 'bucket' | 'bucketAt'> {
  const { context: c } = args;
  const now = c.settings.now();
  const bucket = Math.min(c.settings.msgBurst, c.bucket + ((now - c.bucketAt) * c.settings.msgRate) / 1000);
  return { bucket, bucketAt: now };
}

export function take(args: { context: ConnectionContext }): Pick<ConnectionContext, 'bucket'> {
  return { bucket: args.context.bucket - 1 };
}

export function decayedStrikes(c: ConnectionContext): number {
  return c.strikes * 0.5 ** ((c.settings.now() - c.strikesAt) / STRIKE_HALF_LIFE_MS);
}

export function strike(args: { context: ConnectionContext }): Pick<ConnectionContext, 'strikes' | 'strikesAt'> {
  return { strikes: decayedStrikes(args.context) + 1, strikesAt: args.context.settings.now() };
}

/**
 * A run of over-rate messages lasting this long closes the socket 4008 (§6: within 30 s). The run
 * ends only when the client rests long enough for its bucket to refill to half of MSG_BURST, so a
 * client slightly over the rate stays in one run and is closed; one that bursts and then rests is not.
 */
export const RATE_ABUSE_MS = 15_000;

/** Whether the socket may spend a message now (the bucket after refilling), without changing it. */
export function hasRateBudget(c: ConnectionContext): boolean {
  return refill({ context: c }).bucket >= 1;
}

/** After `refill`: a client whose bucket is back to half has rested, and its run of abuse ends. */
export function restCheck(args: { context: ConnectionContext }): Pick<ConnectionContext, 'overRateSince'> {
  const c = args.context;
  return { overRateSince: c.bucket >= c.settings.msgBurst / 2 ? undefined : c.overRateSince };
}

export function markOverRate(args: { context: ConnectionContext }): Pick<ConnectionContext, 'overRateSince'> {
  return { overRateSince: args.context.overRateSince ?? args.context.settings.now() };
}

export function sustainedAbuse(c: ConnectionContext): boolean {
  return c.overRateSince !== undefined && c.settings.now() - c.overRateSince >= RATE_ABUSE_MS;
}

export function planSubscribe(subs: ReadonlyMap<number, Subscription>, msg: SubscribeMsg, maxTokens: number) {
  const sub: Subscription = { mode: msg.mode ?? DEFAULT_MODE, throttleMs: effectiveThrottleMs(msg.throttleMs ?? 0) };
  const added = msg.tokens.filter((t) => !subs.has(t));
  if (subs.size + added.length > maxTokens) return { ok: false as const };
  const changed: { token: number; from: Subscription }[] = [];
  const unchanged: number[] = [];
  for (const t of msg.tokens) {
    const from = subs.get(t);
    if (from === undefined) continue;
    if (from.mode === sub.mode && from.throttleMs === sub.throttleMs) unchanged.push(t);
    else changed.push({ token: t, from });
  }
  const next = new Map(subs);
  for (const t of msg.tokens) next.set(t, sub);
  return { ok: true as const, sub, next, changed, unchanged };
}

export function planUnsubscribe(subs: ReadonlyMap<number, Subscription>, tokens: readonly number[]) {
  const next = new Map(subs);
  const removed: { token: number; sub: Subscription }[] = [];
  for (const token of tokens) {
    const sub = next.get(token);
    if (sub === undefined) continue;
    next.delete(token);
    removed.push({ token, sub });
  }
  return { next, removed };
}

type Deadline = 'livenessDue' | 'authDue' | 'flowDue';

/** What `setDue` needs of enqueueActions' `enqueue`. */
interface DueQueue {
  assign(values: Partial<Record<Deadline, number>>): void;
  emit(event: ConnectionEmitted): void;
}

/** Sets one region's deadline (unless it already is that) and asks to be woken at the earliest. */
export function setDue(context: ConnectionContext, enqueue: DueQueue, which: Deadline, value: number): void {
  if (context[which] !== value) enqueue.assign({ [which]: value });
  const next = { livenessDue: context.livenessDue, authDue: context.authDue, flowDue: context.flowDue, [which]: value };
  enqueue.emit({ type: 'effect.wake', at: Math.min(next.livenessDue, next.authDue, next.flowDue) });
}
