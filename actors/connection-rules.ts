/**
 * The arithmetic of a connection's rules: the message-rate token bucket with its decaying
 * strikes, and subscription planning against the token limit. Pure functions of the context.
 */
import type { ClientMessage, RequestId } from '../src/protocol/client-messages.ts';
import type { ErrorCode } from '../src/protocol/error-codes.ts';
import { DEFAULT_MODE, type Mode } from '../src/protocol/tick.ts';
import type { ConnectionContext, ConnectionEmitted, ConnectionEvent } from './connection-types.ts';

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
  const now = c.now();
  const bucket = Math.min(c.msgBurst, c.bucket + ((now - c.bucketAt) * c.msgRate) / 1000);
  return { bucket, bucketAt: now };
}

export function take(args: { context: ConnectionContext }): Pick<ConnectionContext, 'bucket'> {
  return { bucket: args.context.bucket - 1 };
}

export function decayedStrikes(c: ConnectionContext): number {
  return c.strikes * 0.5 ** ((c.now() - c.strikesAt) / STRIKE_HALF_LIFE_MS);
}

export function strike(args: { context: ConnectionContext }): Pick<ConnectionContext, 'strikes' | 'strikesAt'> {
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

export function planUnsubscribe(subs: ReadonlyMap<number, Mode>, tokens: readonly number[]) {
  const next = new Map(subs);
  const removed: { token: number; mode: Mode }[] = [];
  for (const token of tokens) {
    const mode = next.get(token);
    if (mode === undefined) continue;
    next.delete(token);
    removed.push({ token, mode });
  }
  return { next, removed };
}
