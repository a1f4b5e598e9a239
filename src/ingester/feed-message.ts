/**
 * Validation of feed messages (§3). Runs once per incoming tick, so it is hand-written rather than
 * schema-driven: it copies known fields into a fresh object and rejects anything off-contract
 * with a short reason that the ingester counts and logs (rate-limited).
 *
 * The message text is kept with the tick (`source`) when it alone determines the tick: the
 * history stores that text as it came, so a tick no gateway wants is never encoded (see
 * docs/delivery.md, "History store"); a reader validates it again with `readFeedJson`.
 */
import { isToken, type Depth, type DepthLevel, type TickData } from '../protocol/tick.ts';

export const MAX_FEED_MESSAGE_BYTES = 64 * 1024;
const MAX_DEPTH_LEVELS = 5;

/**
 * `source`: the message's JSON bytes as received when they carry their own `ts` and are at most
 * MAX_SOURCE_BYTES long, else undefined (then the history stores the tick's own JSON instead).
 */
export type FeedResult = { ok: true; tick: TickData; source: Buffer | undefined } | { ok: false; reason: FeedRejection };
/** `ownTs`: the text carries the tick's `ts` (else it was stamped with `now`). */
export type FeedJsonResult = { ok: true; tick: TickData; ownTs: boolean } | { ok: false; reason: FeedRejection };

/** Longer messages (padded with unknown fields) are not kept as they came: history memory stays bounded. */
const MAX_SOURCE_BYTES = 4_096;

export type FeedRejection =
  | 'too_large' | 'bad_frames' | 'bad_json' | 'not_object' | 'bad_token' | 'token_mismatch'
  | 'bad_ltp' | 'bad_ts' | 'bad_field' | 'bad_depth';

const OPTIONAL_NUMBERS = ['volume', 'bid', 'ask', 'open', 'high', 'low', 'close', 'oi'] as const;

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function readLevels(v: unknown): DepthLevel[] | undefined {
  if (!Array.isArray(v) || v.length > MAX_DEPTH_LEVELS) return undefined;
  const out: DepthLevel[] = [];
  for (const l of v) {
    if (typeof l !== 'object' || l === null) return undefined;
    const { price, qty, orders } = l as Record<string, unknown>;
    if (!finite(price) || !finite(qty) || !finite(orders)) return undefined;
    out.push({ price, qty, orders });
  }
  return out;
}

/**
 * `frames` is one ZeroMQ message: `[json]` or `[token as ASCII decimal, json]`.
 * `now` stamps ticks that carry no `ts`.
 */
export function parseFeedMessage(frames: Buffer[], now: number): FeedResult {
  let topicToken: number | undefined;
  let body: Buffer;
  if (frames.length === 1) body = frames[0]!;
  else if (frames.length === 2) {
    const t = frames[0]!.toString('latin1');
    if (!/^\d{1,10}$/.test(t) || !isToken(Number(t))) return { ok: false, reason: 'bad_token' };
    topicToken = Number(t);
    body = frames[1]!;
  } else return { ok: false, reason: 'bad_frames' };

  if (body.length > MAX_FEED_MESSAGE_BYTES) return { ok: false, reason: 'too_large' };
  const r = readFeedJson(body.toString('utf8'), topicToken, now);
  if (!r.ok) return r;
  return { ok: true, tick: r.tick, source: r.ownTs && body.length <= MAX_SOURCE_BYTES ? body : undefined };
}

/**
 * The checks of §3 on a message's JSON text. `topicToken`: the token of the two-frame form (or,
 * for a history reader, of the stream). `now` stamps a tick without `ts`.
 */
export function readFeedJson(text: string, topicToken: number | undefined, now: number): FeedJsonResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'bad_json' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, reason: 'not_object' };
  const o = parsed as Record<string, unknown>;

  const token = o.token ?? topicToken;
  if (!isToken(token)) return { ok: false, reason: 'bad_token' };
  if (topicToken !== undefined && token !== topicToken) return { ok: false, reason: 'token_mismatch' };
  if (!finite(o.ltp)) return { ok: false, reason: 'bad_ltp' };
  let ts = now;
  if (o.ts !== undefined) {
    if (!finite(o.ts) || o.ts < 0) return { ok: false, reason: 'bad_ts' };
    ts = Math.trunc(o.ts);
  }
  const tick: TickData = { token, ltp: o.ltp, ts };
  for (const f of OPTIONAL_NUMBERS) {
    const v = o[f];
    if (v === undefined) continue;
    if (!finite(v)) return { ok: false, reason: 'bad_field' };
    tick[f] = v;
  }
  if (o.depth !== undefined) {
    if (typeof o.depth !== 'object' || o.depth === null) return { ok: false, reason: 'bad_depth' };
    const d = o.depth as Record<string, unknown>;
    const buy = readLevels(d.buy ?? []);
    const sell = readLevels(d.sell ?? []);
    if (!buy || !sell) return { ok: false, reason: 'bad_depth' };
    tick.depth = { buy, sell } satisfies Depth;
  }
  return { ok: true, tick, ownTs: o.ts !== undefined };
}
