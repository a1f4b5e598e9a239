/**
 * How a subscribe becomes a stream (§6): the ack, then one snapshot per token with a known value,
 * then the token's `status` when it is not live, then live ticks — never interleaved. Tokens this
 * worker already forwards have their newest tick in memory, and snapshot and topic subscription
 * happen in one synchronous step, so no live tick can overtake the snapshot. Other tokens are read
 * from Redis first and subscribed after, for the same reason.
 */
import type { Redis } from 'ioredis';
import type { ConnectionEmitted } from '../../actors/connection-machine.ts';
import type { TokenState } from '../protocol/server-messages.ts';
import { encodeTick, type Mode, type Tick } from '../protocol/tick.ts';
import { wsTopic } from '../protocol/topics.ts';
import type { IngestLink } from './ingest-link.ts';
import { isLive, sendMessage, type Socket } from './socket-model.ts';
import { readTokenSnapshots, type StoredTokens } from './token-store.ts';

type SubscribeEffect = Extract<ConnectionEmitted, { type: 'effect.subscribe' }>;
type UnsubscribeEffect = Extract<ConnectionEmitted, { type: 'effect.unsubscribe' }>;

export interface JoinDeps { link: IngestLink; redis: Redis }

export function subscribe(ws: Socket, e: SubscribeEffect, { link, redis }: JoinDeps): void {
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
  readTokenSnapshots(redis, fetch).then(
    (stored) => finish(stored),
    (err: unknown) => {
      d.log?.warn({ err }, 'no snapshots: redis unavailable');
      finish({ ticks: fetch.map(() => null), paused: fetch.map(() => false) });
    },
  );
  function finish(stored: StoredTokens) {
    if (!isLive(ws)) return;
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

export function unsubscribe(ws: Socket, e: UnsubscribeEffect): void {
  ws.cork(() => {
    for (const { token, mode } of e.removed) ws.unsubscribe(wsTopic(token, mode));
    sendMessage(ws, { type: 'unsubscribed', ...(e.id === undefined ? {} : { id: e.id }), tokens: e.tokens, ...(e.rejected.length ? { rejected: e.rejected } : {}) });
  });
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
