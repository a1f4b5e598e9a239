/**
 * The tick history: per token, a Redis stream `Keys.history(token)` of its last HISTORY_SIZE
 * published ticks (trimmed with `MAXLEN ~`, so a few more may be kept), entry ID `<seq>-0`, one
 * field `t` holding the tick as feed JSON (§3): normally the feed message as it came, so the
 * ingester never encodes a tick for history; read back through the feed validator, with the seq
 * from the entry ID. Re-encode it per mode with `encodeTick`.
 *
 * Why Redis streams and not a ring in the ingester: see docs/delivery.md ("History store").
 *
 * The streams hold the current epoch only: the ingester deletes them all before it publishes
 * under a new epoch. So a reader that knows the epoch a client asks about is current can take
 * any entry as a tick of that epoch.
 *
 * This file is the read side (and the epoch reset); the write side is history-writer.ts.
 */
import type { Redis } from 'ioredis';
import { readFeedJson } from '../ingester/feed-message.ts';
import type { Tick } from '../protocol/tick.ts';
import { Keys } from './keys.ts';

/** The stream field holding the tick JSON. */
export const HISTORY_FIELD = 't';

/** Deletes every history stream (SCAN + UNLINK). Returns how many were deleted. */
export async function deleteAllHistory(redis: Redis): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', Keys.historyPattern, 'COUNT', 1_000);
    cursor = next;
    if (keys.length) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

export interface HistoryRead {
  /** Ticks with seq > afterSeq, ascending. Normally consecutive; a hole means history lost them
   * (the ingester dropped its backlog during a Redis outage): check before replaying. */
  ticks: Tick[];
  /** Seq of the oldest tick still kept for the token; undefined when it has no history. */
  oldest: number | undefined;
}

/**
 * The kept ticks of `token` after `afterSeq` (at most `limit`), and the oldest seq kept, read
 * atomically (MULTI), so `oldest` and `ticks` describe the same moment of the stream.
 * History covers the request completely iff `oldest !== undefined && oldest <= afterSeq + 1` and
 * the ticks are consecutive from afterSeq + 1. Rejects when Redis is unavailable.
 */
export async function readHistory(redis: Redis, token: number, afterSeq: number, limit?: number): Promise<HistoryRead> {
  if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) throw new RangeError(`afterSeq must be a non-negative integer, got ${afterSeq}`);
  const key = Keys.history(token);
  const m = redis.multi();
  m.xrange(key, '-', '+', 'COUNT', 1);
  if (limit !== undefined) m.xrange(key, `(${afterSeq}-0`, '+', 'COUNT', limit);
  else m.xrange(key, `(${afterSeq}-0`, '+');
  const res = await m.exec();
  if (!res) throw new Error('history read transaction aborted');
  for (const [err] of res) if (err) throw err;
  const first = res[0]![1] as [string, string[]][];
  const entries = res[1]![1] as [string, string[]][];
  const ticks: Tick[] = [];
  for (const entry of entries) {
    const tick = entryTick(token, entry);
    if (tick) ticks.push(tick);
  }
  return { ticks, oldest: first.length ? seqOfId(first[0]![0]) : undefined };
}

/**
 * The newest known tick of each token: the newer (by seq) of its stream's last entry and the
 * `Keys.lastTicks` hash (written every 100 ms; it also covers tokens whose history is empty, e.g.
 * right after a new epoch). One pipelined round trip. Tokens with neither are absent.
 */
export async function readNewest(redis: Redis, tokens: readonly number[]): Promise<Map<number, Tick>> {
  const out = new Map<number, Tick>();
  if (tokens.length === 0) return out;
  const p = redis.pipeline();
  for (const t of tokens) p.xrevrange(Keys.history(t), '+', '-', 'COUNT', 1);
  p.hmget(Keys.lastTicks, ...tokens.map(String));
  const res = await p.exec();
  if (!res) throw new Error('pipeline not executed');
  for (const [err] of res) if (err) throw err;
  const last = res[tokens.length]![1] as (string | null)[];
  tokens.forEach((token, i) => {
    const tail = res[i]![1] as [string, string[]][];
    const fromStream = tail.length ? entryTick(token, tail[0]!) : undefined;
    const fromHash = last[i] ? parseTick(last[i]!) : undefined;
    const newest = !fromStream ? fromHash : !fromHash ? fromStream : fromHash.seq > fromStream.seq ? fromHash : fromStream;
    if (newest) out.set(token, newest);
  });
  return out;
}

function seqOfId(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

/**
 * An entry's tick: its JSON validated as a feed message of that token (it carries its own `ts`),
 * its seq from the entry ID. An unreadable one is skipped, not fatal.
 */
function entryTick(token: number, [id, fields]: [string, string[]]): Tick | undefined {
  const i = fields.indexOf(HISTORY_FIELD);
  if (i < 0 || i % 2 !== 0) return undefined;
  const r = readFeedJson(fields[i + 1]!, token, 0);
  return r.ok ? { ...r.tick, seq: seqOfId(id) } : undefined;
}

/** Entries are written only by the ingester; an unreadable one is skipped, not fatal. */
function parseTick(json: string): Tick | undefined {
  try {
    return JSON.parse(json) as Tick;
  } catch {
    return undefined;
  }
}
