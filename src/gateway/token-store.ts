/**
 * The gateway's reads of token data the ingester keeps in Redis: newest ticks, pause state and
 * the stale set. Each read is one round trip.
 */
import type { Redis } from 'ioredis';
import type { TokenState } from '../protocol/server-messages.ts';
import type { Tick } from '../protocol/tick.ts';
import { Keys } from '../store/keys.ts';

export interface StoredTokens {
  /** Newest tick JSON per requested token (same order), null when none is known. */
  ticks: (string | null)[];
  /** Paused per requested token (same order): the token is in the set or every feed is paused. */
  paused: boolean[];
}

/**
 * What a subscribing socket needs for tokens this worker does not forward yet: each token's
 * newest published tick (the snapshot) and whether it is paused.
 */
export async function readTokenSnapshots(redis: Redis, tokens: readonly number[]): Promise<StoredTokens> {
  const names = tokens.map(String);
  const results = await redis
    .pipeline()
    .hmget(Keys.lastTicks, ...names)
    .smismember(Keys.pausedTokens, ...names)
    .get(Keys.pausedAll)
    .exec();
  checked(results);
  const ticks = results[0]![1] as (string | null)[];
  const members = results[1]![1] as number[];
  const all = results[2]![1] === '1';
  return { ticks, paused: members.map((m) => all || m === 1) };
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
