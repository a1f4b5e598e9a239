/**
 * The gateway's reads of token data the ingester keeps in Redis: newest ticks, pause state and
 * the stale set.
 */
import type { Redis } from 'ioredis';
import type { TokenState } from '../protocol/server-messages.ts';
import type { Tick } from '../protocol/tick.ts';
import { readNewest } from '../store/history.ts';
import { Keys } from '../store/keys.ts';

/**
 * What a stream needs when this worker starts forwarding a token (or starts over): its newest
 * published tick (history tail or the newest-tick hash, whichever is newer) and whether it is
 * paused. Two round trips at most, once per token per worker — never per tick.
 */
export async function readTokenNewest(redis: Redis, token: number): Promise<{ tick: Tick | undefined; paused: boolean }> {
  const [newest, results] = await Promise.all([
    readNewest(redis, [token]),
    redis.pipeline().sismember(Keys.pausedTokens, String(token)).get(Keys.pausedAll).exec(),
  ]);
  checked(results);
  return { tick: newest.get(token), paused: results[0]![1] === 1 || results[1]![1] === '1' };
}

export interface Instrument { token: number; ltp: number; ts: number; state: TokenState }

/** Every token with a known value, ascending, with its state (paused wins over stale). */
export async function readInstruments(redis: Redis): Promise<Instrument[]> {
  const results = await redis
    .pipeline()
    .hgetall(Keys.lastTicks)
    .smembers(Keys.pausedTokens)
    .get(Keys.pausedAll)
    .smembers(Keys.staleTokens)
    .exec();
  checked(results);
  const last = results![0]![1] as Record<string, string>;
  const paused = new Set(results![1]![1] as string[]);
  const all = results![2]![1] === '1';
  const stale = new Set(results![3]![1] as string[]);
  const out: Instrument[] = [];
  for (const [key, json] of Object.entries(last)) {
    let t: Tick;
    try {
      t = JSON.parse(json) as Tick;
    } catch {
      // The ingester wrote it; an unreadable entry is skipped rather than failing the listing.
      continue;
    }
    const state: TokenState = all || paused.has(key) ? 'paused' : stale.has(key) ? 'stale' : 'live';
    out.push({ token: t.token, ltp: t.ltp, ts: t.ts, state });
  }
  return out.sort((a, b) => a.token - b.token);
}

/** A pipeline reports errors per command; any of them fails the whole read. */
function checked(results: [Error | null, unknown][] | null): asserts results is [Error | null, unknown][] {
  const failed = results?.find(([err]) => err);
  if (!results || failed) throw failed?.[0] ?? new Error('pipeline not executed');
}
