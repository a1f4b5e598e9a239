/**
 * Topic names on both hops.
 *
 * ZeroMQ (ingester XPUB → gateway SUB) filters by byte prefix, so token topics are fixed width:
 * `t` + the token as 4 bytes big-endian. Every token frame is exactly 5 bytes, so a subscription
 * to token 12 can never match token 123 (a decimal text topic would). Ingester-wide messages use
 * the one-byte topic `b`, which no token topic starts with.
 *
 * Messages on a token topic are either a tick `[topic + meta + lengths, ltpJson + quoteJson +
 * fullJson]` (2 frames, the first 33 bytes and starting with the topic; see tick-meta.ts) or a
 * token-scoped event for every mode `[topic, json]` (2 frames, the first exactly the topic:
 * status). `meta` is the fixed 24-byte binary part of tick-meta.ts: the epoch's 16 UUID bytes,
 * then the seq as a u64 big-endian, so a gateway checks continuity without parsing JSON. A tick
 * whose encodings carry `"snapshot":true` is the newest value re-sent on resume after a pause; it
 * has the same layout and the meta carries its (already issued) seq.
 *
 * Each gateway worker also subscribes to one topic of its own, `w` + a random id, on which nothing
 * is ever sent: the XPUB reports its subscribe when the worker connects and its unsubscribe when
 * the worker goes away, which is how the ingester counts connected workers.
 *
 * uWebSockets.js topics: one per token and mode, `<token>/<l|q|f>`; throttled subscriptions use
 * `<token>/<l|q|f>/<interval ms>`, which the worker's throttle timers publish to (§6 throttle_ms).
 */
import { MODES, type Mode } from './tick.ts';

export const TOKEN_TOPIC_PREFIX = 0x74; // 't'
export const TOKEN_TOPIC_BYTES = 5;
export const BROADCAST_TOPIC = Buffer.from('b');
export const WORKER_TOPIC_PREFIX = 0x77; // 'w'

export function workerTopic(workerId: string): Buffer {
  return Buffer.concat([Buffer.from([WORKER_TOPIC_PREFIX]), Buffer.from(workerId, 'utf8')]);
}

export function tokenTopic(token: number): Buffer {
  const b = Buffer.allocUnsafe(TOKEN_TOPIC_BYTES);
  b[0] = TOKEN_TOPIC_PREFIX;
  b.writeUInt32BE(token, 1);
  return b;
}

/** The token of a token topic frame, or undefined for any other frame. */
export function tokenOfTopic(frame: Buffer): number | undefined {
  if (frame.length !== TOKEN_TOPIC_BYTES || frame[0] !== TOKEN_TOPIC_PREFIX) return undefined;
  return frame.readUInt32BE(1);
}

const MODE_LETTER: Record<Mode, string> = { ltp: 'l', quote: 'q', full: 'f' };
const LETTER_MODE: Record<string, Mode> = { l: 'ltp', q: 'quote', f: 'full' };

export function wsTopic(token: number, mode: Mode, throttleMs = 0): string {
  return throttleMs > 0 ? `${token}/${MODE_LETTER[mode]}/${throttleMs}` : `${token}/${MODE_LETTER[mode]}`;
}

/** The three unthrottled uWS topics of a token, in MODES order; cached by callers on the hot path. */
export function wsTopics(token: number): [string, string, string] {
  return MODES.map((m) => wsTopic(token, m)) as [string, string, string];
}

export function parseWsTopic(topic: string): { token: number; mode: Mode; throttleMs: number } | undefined {
  const [t, letter, interval, ...rest] = topic.split('/');
  if (t === undefined || letter === undefined || rest.length > 0) return undefined;
  const mode = LETTER_MODE[letter];
  const token = Number(t);
  const throttleMs = interval === undefined ? 0 : Number(interval);
  return mode && Number.isInteger(token) && token > 0 && Number.isInteger(throttleMs) && throttleMs >= 0 ? { token, mode, throttleMs } : undefined;
}
