/**
 * The ingester's per-token books (last seq, newest published tick, the value held while paused,
 * staleness) and their copy in Redis: restored at start, written in one pipeline per period for
 * what changed, and flushed by a clean stop. Redis keeps the newest tick per token (snapshots,
 * seq continuity across a clean restart), the held values (a pause outlives a restart) and the
 * stale set.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { tickPrefix, type DepthJson, type Tick, type TickData } from '../protocol/tick.ts';
import { tokenTopic } from '../protocol/topics.ts';
import type { HistoryWriter } from '../store/history-writer.ts';
import { Keys } from '../store/keys.ts';
import type { PauseState } from './pause-state.ts';

export interface TokenBook {
  /** Seq of the last published tick. */
  seq: number;
  /** The last published tick. */
  last: Tick | undefined;
  /** The newest value received while paused and not published yet (it has no seq yet). */
  held: TickData | undefined;
  /** The token's ZeroMQ topic frame, built once. */
  topic: Buffer;
  /** The start of every tick JSON of the token (`tickPrefix`), built once. */
  prefix: string;
  /** The depth last encoded for the wire and its JSON (reused while the depth stays the same). */
  depth: DepthJson | undefined;
  /**
   * When the feed last delivered a valid tick of this token, or it was resumed (ingest clock):
   * staleness counts from here.
   */
  freshAt: number;
  /** True once `stale` was published, until the next tick. */
  stale: boolean;
}

/** A token new to the books; its first tick gets `seqFloor` + 1 (see `Books.seqFloor`). */
export function newBook(token: number, now: number, seqFloor: number): TokenBook {
  return { seq: seqFloor, last: undefined, held: undefined, topic: tokenTopic(token), prefix: tickPrefix(token), depth: undefined, freshAt: now, stale: false };
}

export class Books extends Map<number, TokenBook> {
  /** Tokens whose `last` / `held` / stale flag changed since the last write to Redis. */
  readonly dirty = new Set<number>();
  readonly dirtyHeld = new Set<number>();
  readonly dirtyStale = new Set<number>();
  /** The write in flight, if any. */
  persisting: Promise<boolean> = Promise.resolve(true);
  /**
   * Where a token new to the books starts counting: the highest last seq of any forgotten token
   * (token-eviction.ts), so a returning token never reuses a seq. 0 until a token is forgotten.
   */
  seqFloor = 0;

  constructor(private readonly redis: Redis, private readonly log: Logger) {
    super();
  }

  /** Newest ticks, held values and the stale set from Redis. */
  async restore(paused: PauseState, history: HistoryWriter | undefined): Promise<void> {
    const now = Date.now();
    const saved = await this.redis.hgetall(Keys.lastTicks);
    for (const [token, json] of Object.entries(saved)) {
      try {
        const tick = JSON.parse(json) as Tick;
        this.set(Number(token), { ...newBook(Number(token), now, tick.seq), last: tick });
      } catch {
        this.log.warn({ token }, 'ignoring an unreadable saved tick');
      }
    }
    await this.restoreHeld(now, paused, history);
    // A token reported stale stays stale across a restart until it ticks, so its subscribers get
    // the "live" that ends it. Every other known token gets STALE_MS from now to tick.
    for (const member of await this.redis.smembers(Keys.staleTokens)) {
      const book = this.get(Number(member));
      if (book) book.stale = true;
      else this.dirtyStale.add(Number(member)); // unknown token: dropped from the set
    }
  }

  /**
   * Held values come back with the pause that held them. One whose token is no longer paused
   * (the process stopped between a resume and its write to Redis) is promoted to the newest
   * published value with the next seq, so no value the feed sent is lost.
   */
  private async restoreHeld(now: number, paused: PauseState, history: HistoryWriter | undefined): Promise<void> {
    const held = await this.redis.hgetall(Keys.heldTicks);
    for (const [key, json] of Object.entries(held)) {
      const token = Number(key);
      let data: TickData;
      try {
        data = JSON.parse(json) as TickData;
      } catch {
        this.log.warn({ token }, 'ignoring an unreadable held tick');
        this.dirtyHeld.add(token);
        continue;
      }
      let book = this.get(token);
      if (!book) this.set(token, (book = newBook(token, now, this.seqFloor)));
      if (paused.has(token)) {
        book.held = data;
        continue;
      }
      const tick = data as Tick;
      tick.seq = ++book.seq;
      book.last = tick;
      history?.add(tick);
      this.dirty.add(token);
      this.dirtyHeld.add(token);
    }
  }


  /**
   * Writes what changed since the last call (newest ticks, held values, stale set) in one round
   * trip. Resolves true when everything dirty at the call reached Redis.
   */
  persist(): Promise<boolean> {
    if (this.dirty.size === 0 && this.dirtyHeld.size === 0 && this.dirtyStale.size === 0) return Promise.resolve(true);
    if (this.redis.status !== 'ready') return Promise.resolve(false);
    const last: string[] = [];
    for (const token of this.dirty) {
      const tick = this.get(token)?.last;
      if (tick) last.push(String(token), JSON.stringify(tick));
    }
    const held: string[] = [];
    const unheld: string[] = [];
    for (const token of this.dirtyHeld) {
      const data = this.get(token)?.held;
      if (data) held.push(String(token), JSON.stringify(data));
      else unheld.push(String(token));
    }
    const stale: string[] = [];
    const fresh: string[] = [];
    for (const token of this.dirtyStale) (this.get(token)?.stale ? stale : fresh).push(String(token));
    const retry = { last: [...this.dirty], held: [...this.dirtyHeld], stale: [...this.dirtyStale] };
    this.dirty.clear();
    this.dirtyHeld.clear();
    this.dirtyStale.clear();
    const p = this.redis.pipeline();
    if (last.length) p.hset(Keys.lastTicks, ...last);
    if (held.length) p.hset(Keys.heldTicks, ...held);
    if (unheld.length) p.hdel(Keys.heldTicks, ...unheld);
    if (stale.length) p.sadd(Keys.staleTokens, ...stale);
    if (fresh.length) p.srem(Keys.staleTokens, ...fresh);
    this.persisting = p.exec().then((results) => {
      const failed = results?.find(([err]) => err);
      if (!results || failed) throw failed?.[0] ?? new Error('pipeline not executed');
      return true;
    }).catch((err: unknown) => {
      this.log.warn({ err }, 'could not persist newest ticks; will retry');
      // The books hold the current values: marking the tokens dirty again rewrites the newest.
      for (const t of retry.last) this.dirty.add(t);
      for (const t of retry.held) this.dirtyHeld.add(t);
      for (const t of retry.stale) this.dirtyStale.add(t);
      return false;
    });
    return this.persisting;
  }
}
