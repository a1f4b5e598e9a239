/**
 * How a subscribe becomes a stream (§6), exactly: the ack, then per token its snapshot (the newest
 * value, seq s) or the ticks a resume missed, then its `status` when it is not live, then live
 * ticks s+1, s+2, … — never a silent hole at the join, never a duplicate.
 *
 * Why it is exact: the token's stream (token-stream.ts) keeps the newest tick the topics carried,
 * and the next thing the topics carry is its successor (or a `gap` naming the loss). Sending that
 * newest value and putting the socket on the topic happen in one synchronous step, so nothing can
 * come between them. A token this worker does not forward yet is held (`link.hold`) until its
 * stream knows where it stands (newest value from Redis), then joins the same way. A resume
 * (`since` + the current epoch) replays history from Redis up to the stream's newest seq, re-read
 * until it reaches it, and then joins the same way; history that no longer reaches back makes the
 * token a `gap` in the ack and a snapshot follows instead.
 */
import type { Redis } from 'ioredis';
import type { ConnectionEmitted, Subscription } from '../../actors/connection-machine.ts';
import type { RequestId } from '../protocol/client-messages.ts';
import type { ServerMessage } from '../protocol/server-messages.ts';
import { encodeTick, type Tick } from '../protocol/tick.ts';
import { wsTopic } from '../protocol/topics.ts';
import { readHistory } from '../store/history.ts';
import type { IngestLink } from './ingest-link.ts';
import { isLive, sendMessage, sendText, type Socket } from './socket-model.ts';
import { MODE_INDEX, withSnapshotFlag } from './tick-frames.ts';

type SubscribeEffect = Extract<ConnectionEmitted, { type: 'effect.subscribe' }>;
type UnsubscribeEffect = Extract<ConnectionEmitted, { type: 'effect.unsubscribe' }>;

export interface JoinDeps { link: IngestLink; redis: Redis }

/**
 * Re-reads of history while the stream keeps moving ahead of what was read. The ingester writes
 * history in batches a few milliseconds behind what it publishes, so a re-read only helps after
 * a pause: back-to-back reads return the same short answer and end in a needless `gap`.
 */
const REPLAY_ATTEMPTS = 8;
const REPLAY_RETRY_MS = 15;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const topicOf = (token: number, sub: Subscription) => wsTopic(token, sub.mode, sub.throttleMs);
const idField = (id: RequestId) => (id === undefined ? {} : { id });

function ack(e: SubscribeEffect, link: IngestLink, resume?: { recovered: number[]; gaps: number[] }): ServerMessage {
  return {
    type: 'subscribed', ...idField(e.id), tokens: e.tokens, mode: e.sub.mode, epoch: link.epoch ?? '', rejected: e.rejected,
    ...(e.msg.throttleMs !== undefined ? { throttle_ms: e.sub.throttleMs } : {}),
    ...(resume ?? {}),
  };
}

/** Whether the socket still wants `token` exactly as this subscribe asked (no later change). */
function stillWanted(ws: Socket, token: number, sub: Subscription): boolean {
  return isLive(ws) && ws.getUserData().actor!.getSnapshot().context.subscriptions.get(token) === sub;
}

export function subscribe(ws: Socket, e: SubscribeEffect, deps: JoinDeps): void {
  const { link } = deps;
  if (e.deferred) {
    // Conflating: nothing is sent now; the catch-up sends the newest value of every token.
    for (const token of e.tokens) holdForCatchUp(ws, link, token);
    const since = e.msg.since;
    sendMessage(ws, ack(e, link, since ? { recovered: [], gaps: e.tokens.filter((t) => since.has(t)) } : undefined));
    return;
  }
  const since = e.msg.since;
  if (since && since.size > 0) {
    if (e.msg.epoch !== undefined && e.msg.epoch === link.epoch) return void resume(ws, e, since, deps);
    // Another epoch (or none known): that numbering is void, every named token is a gap.
    return join(ws, e, link, { recovered: [], gaps: e.tokens.filter((t) => since.has(t)) });
  }
  join(ws, e, link, since ? { recovered: [], gaps: [] } : undefined);
}

/** Ack now; each token joins as soon as its stream knows where it stands (at once when hot). */
function join(ws: Socket, e: SubscribeEffect, link: IngestLink, resume?: { recovered: number[]; gaps: number[] }): void {
  const changedFrom = new Map(e.changed.map((c) => [c.token, c.from]));
  const unchanged = new Set(e.unchanged);
  ws.cork(() => {
    sendMessage(ws, ack(e, link, resume));
    for (const token of e.tokens) {
      if (unchanged.has(token)) continue; // already live exactly so: nothing to resend
      const from = changedFrom.get(token);
      link.hold(token).whenKnown(() => {
        if (stillWanted(ws, token, e.sub)) ws.cork(() => enter(ws, link, token, e.sub, from));
        link.release(token);
      });
    }
  });
}

/**
 * The join itself, synchronous: the newest value as a snapshot, onto the topic (leaving the old
 * one after, so the worker's interest never drops to zero between), then the state if not live.
 */
function enter(ws: Socket, link: IngestLink, token: number, sub: Subscription, from?: Subscription): void {
  const latest = link.latest(token, sub.mode);
  if (latest) sendText(ws, withSnapshotFlag(latest));
  ws.subscribe(topicOf(token, sub));
  if (from) ws.unsubscribe(topicOf(token, from));
  const state = link.tokenState(token);
  if (state && state !== 'live') sendMessage(ws, { type: 'status', tokens: [token], state });
}

/**
 * A resume: the ack says per token whether its missed ticks follow (`recovered`) or a snapshot
 * stands in for them (`gaps`); then the replay, then live, with no duplicate and no hole.
 */
async function resume(ws: Socket, e: SubscribeEffect, since: ReadonlyMap<number, number>, { link, redis }: JoinDeps): Promise<void> {
  const unchanged = new Set(e.unchanged);
  const tokens = e.tokens.filter((t) => !unchanged.has(t));
  const streams = tokens.map((t) => link.hold(t));
  try {
    await Promise.all(streams.map((s) => new Promise<void>((r) => s.whenKnown(r))));
    // Per token: the history read that reaches the stream's newest seq (re-read while it moves on).
    const replays = new Map<number, Tick[] | 'gap'>();
    for (let attempt = 1; attempt <= REPLAY_ATTEMPTS; attempt++) {
      const pending = streams.filter((s) => since.has(s.token) && !settled(replays.get(s.token), s.seq));
      if (pending.length === 0) break;
      if (attempt > 1) await sleep(REPLAY_RETRY_MS);
      await Promise.all(pending.map(async (s) => {
        const after = since.get(s.token)!;
        if (after === s.seq) return void replays.set(s.token, []);
        if (after > s.seq) return void replays.set(s.token, 'gap'); // ahead of what exists: not ours
        const read = await readHistory(redis, s.token, after).catch(() => undefined);
        if (!read) return void replays.set(s.token, 'gap');
        const ticks = read.ticks.filter((t) => t.seq <= s.seq);
        const complete = ticks.length > 0 && ticks[0]!.seq === after + 1 && ticks.every((t, i) => t.seq === after + 1 + i);
        replays.set(s.token, complete ? ticks : read.oldest !== undefined && read.oldest > after + 1 ? 'gap' : ticks.length ? ticks : 'gap');
      }));
    }
    if (!isLive(ws)) return;
    const recovered: number[] = [];
    const gaps: number[] = [];
    for (const t of e.tokens) {
      if (!since.has(t)) continue;
      const r = replays.get(t);
      (r === undefined || r === 'gap' ? gaps : recovered).push(t);
    }
    const changedFrom = new Map(e.changed.map((c) => [c.token, c.from]));
    ws.cork(() => {
      sendMessage(ws, ack(e, link, { recovered, gaps }));
      for (const s of streams) {
        if (!stillWanted(ws, s.token, e.sub)) continue;
        const r = replays.get(s.token);
        if (r === undefined || r === 'gap') {
          enter(ws, link, s.token, e.sub, changedFrom.get(s.token));
          continue;
        }
        const mode = e.sub.mode;
        for (const tick of r) sendText(ws, encodeTick(tick, mode));
        const last = r.at(-1)?.seq ?? since.get(s.token)!;
        // History ran out before the stream's newest seq (the attempts were used up): say so, and
        // hand over the newest value so the socket continues from where the topic is.
        if (last < s.seq) {
          sendMessage(ws, { type: 'gap', token: s.token, from: last + 1, to: s.seq });
          const latest = s.latest?.[MODE_INDEX[mode]];
          if (latest) sendText(ws, withSnapshotFlag(latest));
        }
        ws.subscribe(topicOf(s.token, e.sub));
        const from = changedFrom.get(s.token);
        if (from) ws.unsubscribe(topicOf(s.token, from));
        const state = s.state;
        if (state && state !== 'live') sendMessage(ws, { type: 'status', tokens: [s.token], state });
      }
    });
  } finally {
    for (const s of streams) link.release(s.token);
  }
}

/** Whether a replay read already covers the stream up to `seq`. */
function settled(r: Tick[] | 'gap' | undefined, seq: number): boolean {
  if (r === undefined) return false;
  if (r === 'gap') return true;
  return r.length === 0 || r.at(-1)!.seq >= seq;
}

export function unsubscribe(ws: Socket, e: UnsubscribeEffect, link: IngestLink): void {
  ws.cork(() => {
    for (const { token, sub } of e.removed) {
      if (e.deferred) releaseCatchUpHold(ws, link, token);
      else ws.unsubscribe(topicOf(token, sub));
    }
    sendMessage(ws, { type: 'unsubscribed', ...idField(e.id), tokens: e.tokens, ...(e.rejected.length ? { rejected: e.rejected } : {}) });
  });
}

/**
 * Conflating: off every live topic. The worker keeps forwarding the tokens (a hold each), so their
 * newest values are at hand for the catch-up; nothing queues up for this socket meanwhile.
 */
export function conflate(ws: Socket, link: IngestLink, tokens: readonly number[]): void {
  const subs = ws.getUserData().actor!.getSnapshot().context.subscriptions;
  for (const token of tokens) {
    holdForCatchUp(ws, link, token);
    const sub = subs.get(token);
    if (sub) ws.unsubscribe(topicOf(token, sub));
  }
}

/** Caught up: the newest value of every token, back on the topics (each an exact join). */
export function catchUp(ws: Socket, link: IngestLink, subscriptions: ReadonlyMap<number, Subscription>): void {
  ws.cork(() => {
    for (const [token, sub] of subscriptions) enter(ws, link, token, sub);
  });
  releaseAllHolds(ws, link);
}

function holdForCatchUp(ws: Socket, link: IngestLink, token: number): void {
  const d = ws.getUserData();
  d.held ??= new Set();
  if (d.held.has(token)) return;
  d.held.add(token);
  link.hold(token);
}

function releaseCatchUpHold(ws: Socket, link: IngestLink, token: number): void {
  const held = ws.getUserData().held;
  if (held?.delete(token)) link.release(token);
}

/** Gives back every hold of a socket (caught up, or closed). */
export function releaseAllHolds(ws: Socket, link: IngestLink): void {
  const d = ws.getUserData();
  if (!d.held) return;
  for (const token of d.held) link.release(token);
  d.held = undefined;
}
