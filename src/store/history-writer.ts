/**
 * The write side of the tick history (see history.ts for the streams): used by the ingester, no
 * Redis work per tick. Published ticks are queued in memory and written every few milliseconds as
 * ONE script call for the whole batch. While Redis is away the queue is kept up to a bound (oldest
 * dropped and counted) and retried. The script skips a tick whose seq is not above its stream's
 * newest entry (a replayed batch after a failed call whose writes had in fact landed), so a retry
 * is idempotent and one such tick never fails the batch.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Tick } from '../protocol/tick.ts';
import { HISTORY_FIELD as FIELD } from './history.ts';
import { Keys } from './keys.ts';

/**
 * KEYS: the streams of the batch, each once. ARGV[1]: MAXLEN. ARGV[2]: the batch as one string,
 * one entry per tick: `<index in KEYS> <seq> <json>` and the separator byte 0x1E, which valid JSON
 * text never contains (control characters must be escaped inside strings, and only whitespace
 * may stand outside them). One argument instead of three per tick: the client then writes one
 * bulk string per call instead of building thousands of arguments.
 * Returns {written, skipped (seq not above the stream's top), failed (any other error)}. The
 * cause of an XADD error is established by reading the stream's top entry, only on that rare path.
 */
const APPEND_LUA = `
local maxlen = ARGV[1]
local batch = ARGV[2]
local written, skipped, failed = 0, 0, 0
local pos, n = 1, #batch
while pos <= n do
  local sp1 = string.find(batch, ' ', pos, true)
  local sp2 = string.find(batch, ' ', sp1 + 1, true)
  local stop = string.find(batch, '\\30', sp2 + 1, true)
  local key = KEYS[tonumber(string.sub(batch, pos, sp1 - 1))]
  local seq = string.sub(batch, sp1 + 1, sp2 - 1)
  local r = redis.pcall('XADD', key, 'MAXLEN', '~', maxlen, seq .. '-0', '${FIELD}', string.sub(batch, sp2 + 1, stop - 1))
  if type(r) == 'table' and r.err then
    local top = redis.pcall('XREVRANGE', key, '+', '-', 'COUNT', 1)
    local topSeq = nil
    if type(top) == 'table' and top[1] then topSeq = tonumber(string.match(top[1][1], '^(%d+)')) end
    if topSeq and tonumber(seq) <= topSeq then skipped = skipped + 1 else failed = failed + 1 end
  else
    written = written + 1
  end
  pos = stop + 1
end
return {written, skipped, failed}
`;

/** Ends each entry of a batch (see APPEND_LUA). */
const ENTRY_END = 0x1e;

const APPEND_COMMAND = 'tickgateHistoryAppend';

type AppendCommand = (...args: (string | number | Buffer)[]) => Promise<[number, number, number]>;

function appendCommand(redis: Redis): AppendCommand {
  const r = redis as unknown as Record<string, AppendCommand | undefined>;
  // numberOfKeys omitted: each call passes its own key count first.
  if (!r[APPEND_COMMAND]) redis.defineCommand(APPEND_COMMAND, { lua: APPEND_LUA });
  return (...args) => r[APPEND_COMMAND]!.apply(redis, args);
}

export interface HistoryWriterStats {
  /** Entries added to streams. */
  written: number;
  /** Ticks not written because their stream already had that seq or a later one. */
  skipped: number;
  /** Ticks an XADD refused for another reason (e.g. a key of the wrong type). */
  failed: number;
  /** Ticks dropped from the backlog while Redis was away (their history has a hole). */
  dropped: number;
  /** Script calls that succeeded. */
  batches: number;
}

export interface HistoryWriterOptions {
  /** Ticks kept in memory while Redis is away; beyond it the oldest are dropped. */
  maxBacklog?: number;
  /** Delay between a first queued tick and the call that writes it. */
  flushEveryMs?: number;
  /** Most ticks per script call (one call blocks Redis for its duration). */
  maxBatch?: number;
}

/**
 * Each call has a fixed cost of a few hundred µs of ingester CPU (command, script call, reply,
 * timer), which dominates at low rates (~35 µs per tick at 1,500 ticks/s). Not longer, though:
 * readers take the history tail as a token's newest value (cold joins, quiet-token checks), and
 * 20 ms made them see a stale newest often enough to break exact joins around a resume.
 */
const FLUSH_EVERY_MS = 5;
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 1_000;

/** A tick waiting to be written: its stream, its entry ID and its JSON (as text or as the bytes received). */
interface QueuedTick { token: number; seq: number; json: string | Buffer }

export class HistoryWriter {
  readonly stats: HistoryWriterStats = { written: 0, skipped: 0, failed: 0, dropped: 0, batches: 0 };
  /** Ticks waiting to be written: `queue[head..]`, oldest first. */
  private queue: QueuedTick[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<boolean> | undefined;
  private retryMs = 0;
  private closed = false;
  private readonly keys = new Map<number, string>();
  private readonly append: AppendCommand;
  private readonly maxBacklog: number;
  private readonly flushEveryMs: number;
  private readonly maxBatch: number;

  constructor(
    private readonly redis: Redis,
    private readonly size: number,
    private readonly log: Logger,
    opts: HistoryWriterOptions = {},
  ) {
    this.append = appendCommand(redis);
    this.maxBacklog = opts.maxBacklog ?? 200_000;
    this.flushEveryMs = opts.flushEveryMs ?? FLUSH_EVERY_MS;
    this.maxBatch = opts.maxBatch ?? 2_000;
  }

  /** Ticks queued and not yet written. */
  get pending(): number {
    return this.queue.length - this.head;
  }

  /**
   * Hot path: queue a published tick. `json` is JSON the feed validator reads back as this tick
   * (history.ts): normally the feed message's bytes as they came (`FeedResult.source`), so
   * nothing is serialised here; else the tick's own JSON.
   */
  add(tick: Tick, json: string | Buffer = JSON.stringify(tick)): void {
    this.queue.push({ token: tick.token, seq: tick.seq, json });
    // Amortised: trim in chunks, not on every tick once the bound is reached.
    if (this.queue.length - this.head > this.maxBacklog + 1_000) this.dropOldest();
    if (this.timer === undefined && this.sending === undefined && !this.closed) {
      this.timer = setTimeout(this.onTimer, this.flushEveryMs);
    }
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    void this.sendBatch();
  };

  private dropOldest(): void {
    const excess = this.queue.length - this.head - this.maxBacklog;
    if (excess <= 0) return;
    this.head += excess;
    this.stats.dropped += excess;
    this.compact();
  }

  /**
   * Drops the references to ticks already taken: at once when a batch took everything (the usual
   * case), since waiting for 4,096 taken entries would keep written ticks and the feed buffers
   * they hold reachable for ~0.4 s at 10,000 ticks/s, long enough to be promoted to the old
   * generation (and to bring full collections).
   */
  private compact(): void {
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 4_096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  /** Writes one batch; schedules the next (or a retry). Resolves true when the batch landed. */
  private sendBatch(): Promise<boolean> {
    if (this.sending) return this.sending;
    if (this.pending === 0) return Promise.resolve(true);
    if (this.redis.status !== 'ready') {
      this.scheduleRetry();
      return Promise.resolve(false);
    }
    const batch = this.queue.slice(this.head, this.head + this.maxBatch);
    this.head += batch.length;
    this.compact();
    const keyIndex = new Map<number, number>();
    const keys: string[] = [];
    const heads: string[] = [];
    const bodies: Buffer[] = [];
    let bytes = 0;
    for (const t of batch) {
      let k = keyIndex.get(t.token);
      if (k === undefined) {
        keys.push(this.key(t.token));
        keyIndex.set(t.token, (k = keys.length));
      }
      const head = `${k} ${t.seq} `;
      const body = typeof t.json === 'string' ? Buffer.from(t.json, 'utf8') : t.json;
      heads.push(head);
      bodies.push(body);
      bytes += head.length + body.length + 1;
    }
    // Built here into one buffer (two copies per tick, no string flattening or UTF-8 pass),
    // so the client sends it as it is.
    const entries = Buffer.allocUnsafe(bytes);
    let at = 0;
    for (let i = 0; i < heads.length; i++) {
      at += entries.write(heads[i]!, at, 'latin1');
      at += bodies[i]!.copy(entries, at);
      entries[at++] = ENTRY_END;
    }
    const p = this.append(keys.length, ...keys, this.size, entries).then(([written, skipped, failed]) => {
      this.stats.written += written;
      this.stats.skipped += skipped;
      this.stats.failed += failed;
      this.stats.batches++;
      if (this.retryMs > 0) this.log.info({ dropped: this.stats.dropped }, 'history writes restored');
      this.retryMs = 0;
      return true;
    }, (err: unknown) => {
      if (this.retryMs === 0) this.log.warn({ err, pending: this.pending + batch.length }, 'could not write tick history; keeping a bounded backlog and retrying');
      // Back at the front, in order; a retry of ticks that did land is skipped by the script.
      this.queue = batch.concat(this.queue.slice(this.head));
      this.head = 0;
      this.dropOldest();
      return false;
    }).then((ok) => {
      this.sending = undefined;
      if (!ok) this.scheduleRetry();
      else if (this.pending > 0 && !this.closed) this.timer ??= setTimeout(this.onTimer, this.pending >= this.maxBatch ? 0 : this.flushEveryMs);
      return ok;
    });
    this.sending = p;
    return p;
  }

  private scheduleRetry(): void {
    if (this.closed) return;
    this.retryMs = Math.min(RETRY_MAX_MS, Math.max(RETRY_MIN_MS, this.retryMs * 2));
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(this.onTimer, this.retryMs);
  }

  /**
   * Drops the cached key name of a token the ingester forgot (token-eviction.ts), so the cache
   * holds only tokens still known. A tick of it still queued (only after a long Redis outage) is
   * written as usual: it is a real tick of this epoch.
   */
  forget(token: number): void {
    this.keys.delete(token);
  }

  private key(token: number): string {
    let k = this.keys.get(token);
    if (k === undefined) this.keys.set(token, (k = Keys.history(token)));
    return k;
  }

  /**
   * Writes everything queued now and resolves true once it all landed (false if Redis refused or
   * is away). Used by a clean shutdown, which must not claim continuity otherwise.
   */
  async flush(): Promise<boolean> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (;;) {
      if (this.sending) await this.sending;
      if (this.pending === 0) return true;
      if (!(await this.sendBatch())) return false;
    }
  }

  /** Stops the timers; queued ticks are abandoned (call `flush` first to keep them). */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
