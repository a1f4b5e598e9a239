/**
 * Forgetting tokens the feed stopped sending (TOKEN_FORGET_S, default 7 days). Without it the
 * ingester's books, the newest-tick hash, the history streams and everything that walks them grow
 * with every token ever seen (expired contracts, delisted instruments, a feed's typo).
 *
 * A token is forgotten when its last sighting (a feed tick, or a resume) is TOKEN_FORGET_S old,
 * unless it is paused by name (an operator's explicit pause is undone only by a resume, never
 * silently) or some gateway still forwards it (a client is watching it; demand is bounded by the
 * subscription limits and only covers tokens the feed once sent). Forgetting drops the book and,
 * in one MULTI, the token's `tg:last`, `tg:held`, `tg:stale`, `tg:seen` entries and its history
 * stream. `tg:paused` is the operator's and is never touched.
 *
 * Seq honesty: the seq floor (`Keys.seqFloor`) is raised to the forgotten token's last seq, in
 * the same MULTI as the deletion, and every token new to the books starts after the floor. A
 * returning token therefore continues above every seq it ever had under this epoch: a client
 * holding an old seq sees a jump it can trust (a `gap` or a resume `gaps` entry, never a reused
 * seq). One number, not one per forgotten token: a per-token memory would be the leak again.
 *
 * Cost: nothing on the tick path (the book's `freshAt` is already kept). A cursor walks the books
 * a slice per scan, so that every book is looked at about once per round (TOKEN_FORGET_S / 4, at
 * most a minute); the same walk records sightings in `tg:seen` about once per round, so a
 * restarted ingester counts from the last sighting rather than from its own start.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { HistoryWriter } from '../store/history-writer.ts';
import { Keys } from '../store/keys.ts';
import type { Books, TokenBook } from './books.ts';

/** Fields per `HSET` of sightings (an even number: token, time pairs). */
const SEEN_CHUNK = 20_000;

/** How often a slice of the books is examined: an eighth of TOKEN_FORGET_S, within 50 ms..1 s. */
export function evictionScanEveryMs(forgetMs: number): number {
  return Math.min(1_000, Math.max(50, Math.floor(forgetMs / 8)));
}

/** How long one walk over every book may take: a quarter of TOKEN_FORGET_S, at most a minute. */
export function evictionRoundMs(forgetMs: number): number {
  return Math.min(60_000, Math.max(1, Math.floor(forgetMs / 4)));
}

/** Books examined per scan so that a walk over `size` books fits in one round. */
export function evictionSliceSize(size: number, everyMs: number, forgetMs: number): number {
  const scansPerRound = Math.max(1, Math.floor(evictionRoundMs(forgetMs) / everyMs));
  return Math.max(64, Math.ceil(size / scansPerRound));
}

/**
 * Walks a map a slice at a time, each slice resuming where the last one stopped. A Map iterator
 * stays valid while entries are deleted (they are skipped) and added (they come later in the same
 * walk), so the books need no copy and no ordering of their own.
 */
export class SliceCursor<V> {
  private it: Iterator<[number, V]> | undefined;

  constructor(private readonly map: Map<number, V>) {}

  /** Calls `fn` for up to `n` entries; returns true when this slice finished a walk over the map. */
  visit(n: number, fn: (key: number, value: V) => void): boolean {
    this.it ??= this.map.entries();
    for (let i = 0; i < n; i++) {
      const r = this.it.next();
      if (r.done) {
        this.it = undefined;
        return true;
      }
      fn(r.value[0], r.value[1]);
    }
    return false;
  }
}

export interface EvictionRules<V> {
  forgetMs: number;
  /** When the token was last seen. */
  lastSeen(token: number, value: V): number;
  /** True while the token must be kept whatever its age (paused by name, forwarded by a gateway). */
  keep(token: number): boolean;
  /** Sightings at or after this may be newer than what `tg:seen` holds: they are recorded. */
  recordSince: number;
}

export interface Slice {
  /** Tokens to forget. */
  forget: number[];
  /** Sightings to record: token, time. */
  seen: [number, number][];
  /** The slice ended a walk over every book. */
  roundDone: boolean;
}

/** One slice of the walk: the pure selection, on an injected clock. */
export function selectSlice<V>(cursor: SliceCursor<V>, n: number, now: number, rules: EvictionRules<V>): Slice {
  const forget: number[] = [];
  const seen: [number, number][] = [];
  const roundDone = cursor.visit(n, (token, value) => {
    const at = rules.lastSeen(token, value);
    if (now - at >= rules.forgetMs && !rules.keep(token)) forget.push(token);
    else if (at >= rules.recordSince) seen.push([token, at]);
  });
  return { forget, seen, roundDone };
}

/** The seq floor saved in Redis (0 when none): read before the books are restored. */
export async function loadSeqFloor(redis: Redis): Promise<number> {
  const n = Number(await redis.get(Keys.seqFloor));
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

export interface TokenEvictionDeps {
  books: Books;
  redis: Redis;
  log: Logger;
  history: HistoryWriter | undefined;
  forgetMs: number;
  keep(token: number): boolean;
  /** Counts forgotten tokens (metrics). */
  onForgotten(n: number): void;
}

export class TokenEviction {
  private readonly cursor: SliceCursor<TokenBook>;
  /** Sightings read from `tg:seen` at start, for restored tokens not seen since. */
  private readonly restoredSeen = new Map<number, number>();
  /** When the books were restored (set by `restore`): a later `freshAt` is a tick or a resume. */
  private startedAt = Date.now();
  private roundStartedAt = this.startedAt;
  private prevRoundStartedAt = this.startedAt;
  /** Forgotten tokens whose Redis entries are not deleted yet (retried with every write). */
  private readonly pending = new Set<number>();
  /** Sightings not written yet, the newest per token (bounded by the books, also while Redis is away). */
  private seen = new Map<number, number>();
  /** The floor Redis holds (`loadSeqFloor` filled `books.seqFloor` before `restore`). */
  private savedFloor = 0;
  private writing: Promise<boolean> | undefined;
  /** The one write queued behind the running one (scans keep coming while Redis is slow). */
  private queued: Promise<boolean> | undefined;
  private readonly rules: EvictionRules<TokenBook>;
  readonly everyMs: number;

  constructor(private readonly deps: TokenEvictionDeps) {
    this.cursor = new SliceCursor(deps.books);
    this.rules = { forgetMs: deps.forgetMs, lastSeen: (token, book) => this.lastSeen(token, book), keep: deps.keep, recordSince: 0 };
    this.everyMs = evictionScanEveryMs(deps.forgetMs);
  }

  /**
   * After the books are restored: each restored token counts from its recorded sighting (never
   * later than now), not from this start; entries of tokens no longer in the books are dropped.
   */
  async restore(): Promise<void> {
    const { books, redis } = this.deps;
    // The books were restored just now, each with `freshAt` = its restore time, not later than this.
    this.startedAt = this.roundStartedAt = this.prevRoundStartedAt = Date.now();
    this.savedFloor = books.seqFloor;
    const recorded = await redis.hgetall(Keys.lastSeen);
    const unknown: string[] = [];
    for (const [key, value] of Object.entries(recorded)) {
      const token = Number(key);
      const at = Number(value);
      if (books.has(token) && Number.isFinite(at)) this.restoredSeen.set(token, Math.min(at, this.startedAt));
      else unknown.push(key);
    }
    if (unknown.length) await redis.hdel(Keys.lastSeen, ...unknown);
  }

  /** When the feed last sent the token, as far as this or a previous ingester knows. */
  private lastSeen(token: number, book: TokenBook): number {
    if (book.freshAt > this.startedAt) {
      if (this.restoredSeen.size) this.restoredSeen.delete(token);
      return book.freshAt;
    }
    return this.restoredSeen.get(token) ?? book.freshAt;
  }

  /** One slice (the ingester's timer calls this every `everyMs`). */
  scan(now = Date.now()): void {
    const { books } = this.deps;
    this.rules.recordSince = this.prevRoundStartedAt;
    const slice = selectSlice(this.cursor, evictionSliceSize(books.size, this.everyMs, this.deps.forgetMs), now, this.rules);
    if (slice.roundDone) {
      this.prevRoundStartedAt = this.roundStartedAt;
      this.roundStartedAt = now;
    }
    for (const [token, at] of slice.seen) this.seen.set(token, at);
    for (const token of slice.forget) this.forget(token);
    if (slice.forget.length) {
      this.deps.onForgotten(slice.forget.length);
      this.deps.log.info({ tokens: slice.forget.slice(0, 50), count: slice.forget.length, seqFloor: books.seqFloor }, 'forgot tokens unseen for TOKEN_FORGET_S');
    }
    if (this.pending.size || this.seen.size) void this.write();
  }

  private forget(token: number): void {
    const { books } = this.deps;
    const book = books.get(token)!;
    if (book.seq > books.seqFloor) books.seqFloor = book.seq;
    books.delete(token);
    this.restoredSeen.delete(token);
    this.seen.delete(token);
    this.deps.history?.forget(token);
    this.pending.add(token);
  }

  /**
   * Writes the deletions, the floor and the sightings in one MULTI (one at a time). Deletions and
   * the floor must land together: a token whose `tg:last` is gone must find the floor above its
   * seq. A token that came back before its deletion landed keeps its keys (they are its new book's
   * now; old history entries stay, as real ticks of this epoch). Resolves true when all landed.
   */
  write(): Promise<boolean> {
    if (this.writing) {
      this.queued ??= this.writing.then(() => {
        this.queued = undefined;
        return this.write();
      });
      return this.queued;
    }
    const { books, redis } = this.deps;
    const tokens: string[] = [];
    for (const t of this.pending) if (!books.has(t)) tokens.push(String(t));
    this.pending.clear();
    const seen = this.seen;
    this.seen = new Map();
    const floor = books.seqFloor;
    if (tokens.length === 0 && seen.size === 0 && floor === this.savedFloor) return Promise.resolve(true);
    if (redis.status !== 'ready') {
      this.requeue(tokens, seen);
      return Promise.resolve(false);
    }
    const m = redis.multi();
    // In chunks: a clean stop of a busy ingester records every book at once.
    let fields: (string | number)[] = [];
    for (const [token, at] of seen) {
      fields.push(token, at);
      if (fields.length >= SEEN_CHUNK) {
        m.hset(Keys.lastSeen, ...fields);
        fields = [];
      }
    }
    if (fields.length) m.hset(Keys.lastSeen, ...fields);
    if (floor !== this.savedFloor || tokens.length) m.set(Keys.seqFloor, String(floor));
    if (tokens.length) {
      m.hdel(Keys.lastTicks, ...tokens).hdel(Keys.heldTicks, ...tokens).srem(Keys.staleTokens, ...tokens).hdel(Keys.lastSeen, ...tokens);
      m.unlink(...tokens.map((t) => Keys.history(Number(t))));
    }
    this.writing = m.exec().then((results) => {
      const failed = results?.find(([err]) => err);
      if (!results || failed) throw failed?.[0] ?? new Error('transaction not executed');
      if (floor > this.savedFloor) this.savedFloor = floor;
      return true;
    }).catch((err: unknown) => {
      this.deps.log.warn({ err, tokens: tokens.length }, 'could not delete forgotten tokens from Redis; will retry');
      this.requeue(tokens, seen);
      return false;
    }).finally(() => {
      this.writing = undefined;
    });
    return this.writing;
  }

  /** Puts back what a write could not deliver; the next scan's write retries it. */
  private requeue(tokens: string[], seen: Map<number, number>): void {
    for (const t of tokens) this.pending.add(Number(t));
    // A sighting taken since is newer; a token forgotten since needs none.
    for (const [token, at] of seen) if (!this.seen.has(token) && this.deps.books.has(token)) this.seen.set(token, at);
  }

  /** Clean stop: records every sighting newer than `tg:seen` may hold, then writes. */
  async close(): Promise<boolean> {
    for (const [token, book] of this.deps.books) {
      const at = this.lastSeen(token, book);
      if (at >= this.prevRoundStartedAt) this.seen.set(token, at);
    }
    return this.write();
  }
}
