/**
 * Filling a token stream's hole from the tick history in Redis (token-stream.ts decides when): the
 * missing seqs are read and forwarded in order, and whatever history cannot give becomes exactly
 * one `gap` message naming the lost range. Runs only while a stream syncs, never per live tick.
 *
 * Works on the stream through `FillTarget` (its token, position and topics) so this file needs
 * nothing from token-stream.ts (no import cycle).
 */
import type { Logger } from 'pino';
import type { Tick } from '../protocol/tick.ts';
import type { HistoryRead } from '../store/history.ts';
import type { TemplatedApp } from './uws.ts';

/** A history read that misses the newest ticks may just be early (the ingester batches writes). */
const FILL_ATTEMPTS = 6;
const FILL_RETRY_MS = 25;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The stream being filled. `seq` is read afresh after every await: forwarding moves it. */
export interface FillTarget {
  readonly token: number;
  /** Seq of the newest tick the topics carried; a reported gap moves it to the gap's end. */
  seq: number;
  /** The three unthrottled uWS topics, where the `gap` message goes. */
  readonly topics: readonly string[];
}

/** What a fill needs from the link (TokenStreamDeps has all of it). */
export interface FillDeps {
  app: Pick<TemplatedApp, 'publish'>;
  log: Pick<Logger, 'warn'>;
  stats: { ticksRecovered: number; gapMessages: number; ticksLost: number };
  readHistory(token: number, afterSeq: number): Promise<HistoryRead>;
}

/**
 * Forwards ticks seq+1..to from history with `forward` (which advances `stream.seq`). A read that
 * stops short may be early (the ingester writes history in small batches): it is retried a few
 * times. What history does not have (trimmed, lost in a Redis outage, Redis down) becomes one
 * `gap` message. Stops as soon as `current()` turns false (the stream was dropped or restarted).
 */
export async function fillFromHistory(
  stream: FillTarget, to: number, current: () => boolean, forward: (tick: Tick) => void, deps: FillDeps,
): Promise<void> {
  for (let attempt = 1; stream.seq < to; attempt++) {
    let read: HistoryRead | undefined;
    try {
      read = await deps.readHistory(stream.token, stream.seq);
    } catch (err) {
      deps.log.warn({ err, token: stream.token }, 'history unavailable; reporting a gap');
    }
    if (!current()) return;
    let recovered = 0;
    for (const tick of read?.ticks ?? []) {
      if (tick.seq !== stream.seq + 1 || tick.seq > to) break;
      forward(tick);
      recovered++;
    }
    deps.stats.ticksRecovered += recovered;
    if (stream.seq >= to) return;
    const lostForGood = !read || (read.oldest !== undefined && read.oldest > stream.seq + 1) || read.ticks.some((t) => t.seq > stream.seq + 1);
    if (lostForGood || attempt >= FILL_ATTEMPTS) {
      const gap = { type: 'gap', token: stream.token, from: stream.seq + 1, to };
      for (const t of stream.topics) deps.app.publish(t, JSON.stringify(gap));
      deps.stats.gapMessages++;
      deps.stats.ticksLost += to - stream.seq;
      stream.seq = to;
      return;
    }
    await sleep(FILL_RETRY_MS);
    if (!current()) return;
  }
}
