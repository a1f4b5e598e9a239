/**
 * The ingester: SUB to every feed endpoint → validate (§3) → assign per-token `seq` → encode once
 * per mode → XPUB at INGEST_BIND, where gateway workers subscribe to exactly the tokens their
 * clients want. Keeps each token's newest tick in memory and (batched) in Redis so gateways can
 * send snapshots and a restarted ingester continues every token's seq.
 *
 * Control plane (§4): a REP socket at CONTROL_BIND (see control-server.ts). Paused tokens are
 * tracked but not published; `stale` / `live` / `paused` status events travel on the token's own
 * topic, so exactly its subscribers get them.
 *
 * Seq rule: `seq` counts published ticks only. A value received while its token is paused is
 * held without a seq (the newest one replaces the previous); resume publishes it with the next
 * seq, as a snapshot. So live clients never see a seq gap from a pause, and the same seq never
 * names two different values.
 *
 * Bad feed input is counted per reason, logged at a bounded rate, and skipped; nothing a feed
 * sends can stop this process.
 *
 * Epoch rule: under one epoch a (token, seq) pair names one tick forever. The epoch is kept only
 * when the previous ingester proved that everything it issued reached Redis: a clean stop flushes
 * the newest ticks, held values, stale set and history, and only then writes the clean-shutdown
 * marker (`Keys.cleanShutdown` = its epoch). A start consumes the marker (GETDEL). Marker equal
 * to the stored epoch: the restored books hold the last seq issued, so seq continues with no
 * reuse. Anything else (a crash, `kill -9`, a failed flush, Redis that lost data): a new epoch, and
 * the old epoch's history streams are deleted before anything is published. Seqs then continue
 * from the restored books, which may be behind what the crashed ingester issued; that is safe
 * because the epoch is new, so (epoch, token, seq) stays unique, and it keeps seq rising for
 * clients that ignore the epoch. (The restored newest tick keeps its seq: under the new epoch that
 * seq names only that value, since new ticks start after it.)
 */
import { randomUUID } from 'node:crypto';
import * as zmq from 'zeromq';
import type { Redis } from 'ioredis';
import { revokeUserSessions } from '../auth/sessions.ts';
import { loadServerCurve, refuseOpenBinds, serverOptions, startZapHandler, type ServerCurve } from '../zmq/curve.ts';
import type { Logger } from 'pino';
import type { Config } from '../../config/index.ts';
import type { ControlReply, ControlRequest, OperatorBroadcast } from '../protocol/control.ts';
import type { TokenState } from '../protocol/server-messages.ts';
import { encodeTick, type Tick, type TickData } from '../protocol/tick.ts';
import { encodeTickMeta, epochBytes, isEpochString } from '../protocol/tick-meta.ts';
import { BROADCAST_TOPIC, tokenOfTopic, tokenTopic, WORKER_TOPIC_PREFIX } from '../protocol/topics.ts';
import { deleteAllHistory } from '../store/history.ts';
import { HistoryWriter } from '../store/history-writer.ts';
import { Keys } from '../store/keys.ts';
import { ControlServer } from './control-server.ts';
import { parseFeedMessage, type FeedRejection } from './feed-message.ts';
import { PauseState } from './pause-state.ts';
import { RateLimitedLog } from './rate-limited-log.ts';
import { enableHeartbeats } from '../zmq/heartbeat.ts';
import { receiveLoop } from '../zmq/receive-loop.ts';

/** How often changed newest ticks, held values and stale flags are written to Redis (one pipeline per period). */
const PERSIST_EVERY_MS = 100;
/** Ingester heartbeat on the broadcast topic: gateways use it to report the ingester link. */
export const INGEST_HEARTBEAT_MS = 1_000;

export interface TokenBook {
  /** Seq of the last published tick. */
  seq: number;
  /** The last published tick. */
  last: Tick | undefined;
  /** The newest value received while paused and not published yet (it has no seq yet). */
  held: TickData | undefined;
  /** The token's ZeroMQ topic frame, built once. */
  topic: Buffer;
  /**
   * When the feed last delivered a valid tick of this token, or it was resumed (ingest clock):
   * staleness counts from here.
   */
  freshAt: number;
  /** True once `stale` was published, until the next tick. */
  stale: boolean;
}

/** How often tokens are checked for staleness: a quarter of STALE_MS, within 10 ms..1 s. */
export function staleScanEveryMs(staleMs: number): number {
  return Math.min(1_000, Math.max(10, Math.floor(staleMs / 4)));
}

export interface IngesterStats {
  ticksIn: number;
  ticksOut: number;
  rejected: Record<string, number>;
}

export class Ingester {
  readonly epoch: string;
  /** The epoch's 16 UUID bytes, the head of every tick meta frame. */
  private readonly epochRaw: Buffer;
  /** Writes each published tick to its history stream; absent with HISTORY_SIZE=0. */
  readonly history: HistoryWriter | undefined;
  readonly stats: IngesterStats = { ticksIn: 0, ticksOut: 0, rejected: {} };
  /** Tokens with at least one subscribed gateway, as seen on the XPUB. */
  readonly demand = new Set<number>();
  /**
   * Connected gateway workers, by their worker topic. Each worker subscribes to a topic of its
   * own (`w` + random id, see topics.ts); with unique topics the XPUB reports exactly one
   * subscribe when a worker connects and one unsubscribe when it goes away, even with
   * `allSubs` verbosity. Counting through ZeroMQ rather than Redis heartbeats means a worker is
   * counted exactly while it can receive ticks, with no timeout to tune.
   */
  private readonly workers = new Set<string>();
  private readonly books = new Map<number, TokenBook>();
  /** Tokens whose `last` / `held` / stale flag changed since the last write to Redis. */
  private readonly dirty = new Set<number>();
  private readonly dirtyHeld = new Set<number>();
  private readonly dirtyStale = new Set<number>();
  private readonly feed = new zmq.Subscriber();
  private readonly xpub: zmq.XPublisher;
  /** With ZMQ_CURVE_DIR: the server sockets' own context, its ZAP handler and the keys. */
  private readonly curve: { context: zmq.Context; keys: ServerCurve } | undefined;
  private stopZap: (() => void) | undefined;
  private control: ControlServer | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly badInputLog: RateLimitedLog;
  private closed = false;
  private persisting: Promise<boolean> = Promise.resolve(true);

  private constructor(
    private readonly config: Config,
    private readonly redis: Redis,
    private readonly log: Logger,
    epoch: string,
    private readonly paused: PauseState,
  ) {
    this.epoch = epoch;
    this.epochRaw = epochBytes(epoch);
    this.badInputLog = new RateLimitedLog(log, 10_000);
    this.curve = config.zmqCurveDir ? { context: new zmq.Context(), keys: loadServerCurve(config.zmqCurveDir) } : undefined;
    this.xpub = new zmq.XPublisher(this.serverSocketOptions());
    if (config.historySize > 0) this.history = new HistoryWriter(redis, config.historySize, log);
  }

  /**
   * Restores seqs, newest values and pause state from Redis, binds the XPUB and the control
   * socket and connects to the feeds.
   */
  static async start(config: Config, redis: Redis, log: Logger): Promise<Ingester> {
    refuseOpenBinds(config);
    const epoch = await resolveEpoch(redis, log);
    const ing = new Ingester(config, redis, log, epoch, await PauseState.load(redis));
    const now = Date.now();
    const saved = await redis.hgetall(Keys.lastTicks);
    for (const [token, json] of Object.entries(saved)) {
      try {
        const tick = JSON.parse(json) as Tick;
        ing.books.set(Number(token), { ...newBook(Number(token), now), seq: tick.seq, last: tick });
      } catch {
        log.warn({ token }, 'ignoring an unreadable saved tick');
      }
    }
    await ing.restoreHeld(now);
    // A token reported stale stays stale across a restart until it ticks, so its subscribers get
    // the "live" that ends it. Every other known token gets STALE_MS from now to tick.
    for (const member of await redis.smembers(Keys.staleTokens)) {
      const book = ing.books.get(Number(member));
      if (book) book.stale = true;
      else ing.dirtyStale.add(Number(member)); // unknown token: dropped from the set
    }
    // The link's queue is the sum of both ends' HWMs: INGEST_HWM bounds it at both, so a small
    // value really makes a slow gateway lose ticks (which it then recovers or reports).
    ing.xpub.sendHighWaterMark = config.ingestHwm;
    ing.xpub.sendTimeout = 0; // see send()
    // Every subscribe reaches us (so each joining gateway gets a prompt heartbeat); unsubscribes
    // arrive only when a topic's last subscriber leaves, which keeps `demand` exact.
    ing.xpub.verbosity = 'allSubs';
    enableHeartbeats(ing.xpub);
    enableHeartbeats(ing.feed);
    try {
      // The ZAP handler first: without one, libzmq would admit every CURVE client.
      if (ing.curve) ing.stopZap = await startZapHandler(ing.curve.context, ing.curve.keys.allowed, log);
      await ing.xpub.bind(config.ingestBind);
      ing.control = await ControlServer.start(config.controlBind, (req) => ing.handleControl(req), log, ing.serverSocketOptions());
    } catch (err) {
      // A half-started ingester must not keep the other endpoint bound.
      ing.closed = true;
      ing.stopZap?.();
      ing.xpub.close();
      ing.feed.close();
      throw err;
    }
    ing.feed.receiveHighWaterMark = 100_000;
    for (const ep of config.feedEndpoints) ing.feed.connect(ep);
    ing.feed.subscribe();
    const closed = () => ing.closed;
    receiveLoop(ing.feed, (frames) => ing.onFeedMessage(frames), { what: 'feed', log, closed });
    receiveLoop(ing.xpub, (frames) => ing.onSubscription(frames), { what: 'xpub', log, closed });
    ing.timers.push(setInterval(() => ing.persist(), PERSIST_EVERY_MS));
    ing.timers.push(setInterval(() => ing.broadcast({ type: 'hb', epoch }), INGEST_HEARTBEAT_MS));
    ing.timers.push(setInterval(() => ing.scanStale(), staleScanEveryMs(config.staleMs)));
    ing.broadcast({ type: 'hb', epoch });
    log.info({
      feeds: config.feedEndpoints, bind: config.ingestBind, control: config.controlBind, tokens: ing.books.size, epoch,
      paused: ing.paused.reply,
    }, 'ingester started');
    return ing;
  }

  /**
   * Held values come back with the pause that held them. One whose token is no longer paused
   * (the process stopped between a resume and its write to Redis) is promoted to the newest
   * published value with the next seq, so no value the feed sent is lost.
   */
  private async restoreHeld(now: number): Promise<void> {
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
      let book = this.books.get(token);
      if (!book) this.books.set(token, (book = newBook(token, now)));
      if (this.paused.has(token)) {
        book.held = data;
        continue;
      }
      const tick = data as Tick;
      tick.seq = ++book.seq;
      book.last = tick;
      this.history?.add(tick);
      this.dirty.add(token);
      this.dirtyHeld.add(token);
    }
  }


  private onFeedMessage(frames: Buffer[]): void {
    // Closing: the final flush has started, so no further seq may be issued.
    if (this.closed) return;
    const now = Date.now();
    const r = parseFeedMessage(frames, now);
    if (!r.ok) return this.reject(r.reason);
    this.stats.ticksIn++;
    this.onTick(r.tick, now);
  }

  private reject(reason: FeedRejection): void {
    this.stats.rejected[reason] = (this.stats.rejected[reason] ?? 0) + 1;
    this.badInputLog.warn(reason, 'skipped a malformed feed message');
  }

  /** Hot path: a pause check, one seq increment, three encodings, one XPUB send. */
  private onTick(data: TickData, now: number): void {
    let book = this.books.get(data.token);
    if (book === undefined) {
      book = newBook(data.token, now);
      this.books.set(data.token, book);
    }
    book.freshAt = now;
    if (this.paused.has(data.token)) {
      book.held = data;
      this.dirtyHeld.add(data.token);
      return;
    }
    if (book.stale) {
      // "live" goes out right before the tick that ends the silence, on the same topic.
      book.stale = false;
      this.dirtyStale.add(data.token);
      this.sendStatus(book.topic, data.token, 'live');
    }
    this.publish(book, data, false);
  }

  /** Assigns the next seq, sends the tick (meta + three encodings) and queues it for history. */
  private publish(book: TokenBook, data: TickData, snapshot: boolean): void {
    if (this.closed) return;
    const tick = data as Tick;
    tick.seq = ++book.seq;
    book.last = tick;
    this.dirty.add(tick.token);
    const full = this.sendTick(book.topic, tick, snapshot);
    // The full encoding holds every field of the tick: history stores it as it is.
    this.history?.add(tick, full);
    this.stats.ticksOut++;
  }

  /** `[topic, meta, ltp, quote, full]` (topics.ts). Returns the full encoding. */
  private sendTick(topic: Buffer, tick: Tick, snapshot: boolean): string {
    const full = encodeTick(tick, 'full', snapshot);
    this.send([topic, encodeTickMeta(this.epochRaw, tick.seq), encodeTick(tick, 'ltp', snapshot), encodeTick(tick, 'quote', snapshot), full]);
    return full;
  }

  /** A token-scoped status event for every subscriber of `token`, in any mode. */
  private sendStatus(topic: Buffer, token: number, state: TokenState): void {
    this.send([topic, JSON.stringify({ type: 'status', tokens: [token], state })]);
  }

  /**
   * Reports tokens that had no tick for STALE_MS. Paused tokens are skipped: their state is
   * `paused`, whatever the feed does; after a resume they get STALE_MS again.
   */
  private scanStale(): void {
    const deadline = Date.now() - this.config.staleMs;
    for (const [token, book] of this.books) {
      if (book.stale || book.freshAt > deadline || this.paused.has(token)) continue;
      book.stale = true;
      this.dirtyStale.add(token);
      this.sendStatus(book.topic, token, 'stale');
    }
  }

  /**
   * Sends on the XPUB. PUB-type sockets never block (they drop at a subscriber's HWM), and with a
   * zero send timeout each send completes synchronously, so sends never overlap and need no queue.
   */
  private send(frames: (Buffer | string)[]): void {
    if (this.closed) return;
    this.xpub.send(frames).catch((err: unknown) => {
      if (!this.closed) this.log.error({ err }, 'xpub send failed');
    });
  }

  private serverSocketOptions() {
    return this.curve ? { context: this.curve.context, ...serverOptions(this.curve.keys) } : {};
  }

  /** An ingester-wide message to every connected gateway. */
  broadcast(msg: object): void {
    this.send([BROADCAST_TOPIC, JSON.stringify(msg)]);
  }

  /** One control request (§4). Requests arrive one at a time: the REP socket serialises them. */
  async handleControl(req: ControlRequest): Promise<ControlReply> {
    switch (req.cmd) {
      case 'pause':
      case 'resume':
        return this.changePause(req.cmd, req.tokens);
      case 'status':
        return {
          ok: true, paused: this.paused.reply, tokens: this.books.size,
          ticks_in: this.stats.ticksIn, ticks_out: this.stats.ticksOut, workers: this.workers.size,
        };
      case 'demand':
        return { ok: true, tokens: [...this.demand].sort((a, b) => a - b) };
      case 'notify':
        return this.operatorBroadcast({ type: 'notify', user: req.user, message: req.message });
      case 'announce':
        return this.operatorBroadcast({ type: 'announce', tokens: req.tokens, message: req.message });
      case 'disconnect':
        if (req.revoke) {
          // Sessions first: once the sockets close, the client's reconnect and refresh must fail.
          // Redis trouble is answered as such; the sockets are then left alone (nothing half-done).
          try {
            const sessions = await revokeUserSessions(this.redis, req.user);
            this.log.info({ user: req.user, sessions }, 'operator revoked a user\'s sessions');
          } catch (err) {
            this.log.warn({ err, user: req.user }, 'could not revoke sessions');
            return { ok: false, error: 'unavailable: the sessions could not be revoked (Redis)' };
          }
        }
        return this.operatorBroadcast({ type: 'disconnect', user: req.user });
    }
  }

  private operatorBroadcast(msg: OperatorBroadcast): ControlReply {
    this.broadcast(msg);
    this.log.info({ op: msg.type, ...('user' in msg ? { user: msg.user } : { tokens: msg.tokens }) }, 'operator message sent to gateways');
    return { ok: true };
  }

  /**
   * Applies a pause or resume (Redis first, see PauseState), then tells the subscribers of every
   * token whose state changed: `paused`; or `live` followed at once by the newest value as a
   * snapshot tick (the held value with the next seq, else the last published tick as it was).
   */
  private async changePause(cmd: 'pause' | 'resume', tokens: number[] | undefined): Promise<ControlReply> {
    const before = this.paused.copy();
    const known = () => this.knownTokens();
    try {
      if (cmd === 'pause') await this.paused.pause(this.redis, tokens);
      else await this.paused.resume(this.redis, tokens, known);
    } catch (err) {
      this.log.warn({ err, cmd }, 'pause state not saved');
      return { ok: false, error: 'redis unavailable: the pause state was not changed' };
    }
    const candidates = new Set<number>(tokens ?? known());
    for (const t of before.tokens) candidates.add(t);
    let changed = 0;
    for (const token of candidates) {
      const was = before.has(token);
      const is = this.paused.has(token);
      if (was === is) continue;
      changed++;
      const book = this.books.get(token);
      if (is) {
        this.sendStatus(book?.topic ?? tokenTopic(token), token, 'paused');
        continue;
      }
      this.sendStatus(book?.topic ?? tokenTopic(token), token, 'live');
      if (!book) continue;
      // Just announced live: staleness counts afresh from the resume, not from before the pause.
      if (book.stale) {
        book.stale = false;
        this.dirtyStale.add(token);
      }
      book.freshAt = Date.now();
      if (book.held) {
        const held = book.held;
        book.held = undefined;
        this.dirtyHeld.add(token);
        this.publish(book, held, true);
      } else if (book.last) {
        // Re-sent as it was: its seq is already issued (and in history).
        this.sendTick(book.topic, book.last, true);
      }
    }
    // Lists are cut short: a request may name 10,000 tokens.
    const reply = this.paused.reply;
    this.log.info({
      cmd, tokens: tokens ? tokens.slice(0, 50) : 'all', named: tokens?.length, changed,
      paused: reply === 'all' ? reply : reply.slice(0, 50), pausedCount: reply === 'all' ? undefined : reply.length,
    }, cmd === 'pause' ? 'feeds paused' : 'feeds resumed');
    return { ok: true, paused: reply };
  }

  /** Every token a status change may concern: known to the feed or wanted by some gateway. */
  private *knownTokens(): Iterable<number> {
    yield* this.books.keys();
    for (const t of this.demand) if (!this.books.has(t)) yield t;
  }

  /**
   * XPUB hands up one message per subscription change that matters: the first subscriber of a
   * topic (`0x01` + topic) and the last one leaving (`0x00` + topic), including gateways that
   * disconnect. That is exactly the demand set, and (with one unique topic per worker) the set
   * of connected workers.
   */
  private onSubscription([msg]: Buffer[]): void {
    if (!msg || msg.length < 1) return;
    const topic = msg.subarray(1);
    const token = tokenOfTopic(topic);
    if (msg[0] === 1) {
      if (token !== undefined) this.demand.add(token);
      // A (re)joining gateway needs a heartbeat promptly to report the link up.
      else if (topic.equals(BROADCAST_TOPIC)) this.broadcast({ type: 'hb', epoch: this.epoch });
      else if (topic[0] === WORKER_TOPIC_PREFIX) this.workers.add(topic.toString('latin1'));
    } else if (msg[0] === 0) {
      if (token !== undefined) this.demand.delete(token);
      else if (topic[0] === WORKER_TOPIC_PREFIX) this.workers.delete(topic.toString('latin1'));
    }
  }

  /**
   * Writes what changed since the last call (newest ticks, held values, stale set) in one round
   * trip. Resolves true when everything dirty at the call reached Redis.
   */
  private persist(): Promise<boolean> {
    if (this.dirty.size === 0 && this.dirtyHeld.size === 0 && this.dirtyStale.size === 0) return Promise.resolve(true);
    if (this.redis.status !== 'ready') return Promise.resolve(false);
    const last: string[] = [];
    for (const token of this.dirty) {
      const tick = this.books.get(token)?.last;
      if (tick) last.push(String(token), JSON.stringify(tick));
    }
    const held: string[] = [];
    const unheld: string[] = [];
    for (const token of this.dirtyHeld) {
      const data = this.books.get(token)?.held;
      if (data) held.push(String(token), JSON.stringify(data));
      else unheld.push(String(token));
    }
    const stale: string[] = [];
    const fresh: string[] = [];
    for (const token of this.dirtyStale) (this.books.get(token)?.stale ? stale : fresh).push(String(token));
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

  /**
   * Clean stop: no further seq is issued, everything is flushed (newest ticks, held values, stale
   * set, history), and only when all of it reached Redis the clean-shutdown marker is written, so
   * the next start keeps the epoch. If anything failed, no marker: the next start opens a new
   * epoch, which is always safe.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.control?.close();
    this.feed.close();
    let clean = false;
    try {
      await this.persisting;
      const [saved, historySaved] = await Promise.all([this.persist(), this.history?.flush() ?? Promise.resolve(true)]);
      if (saved && historySaved) {
        await this.redis.set(Keys.cleanShutdown, this.epoch);
        clean = true;
      }
    } catch (err) {
      this.log.warn({ err }, 'could not write the clean-shutdown marker');
    }
    if (clean) this.log.info({ epoch: this.epoch }, 'ingester state flushed; the next start keeps this epoch');
    else this.log.warn({ epoch: this.epoch, historyPending: this.history?.pending }, 'ingester state not fully flushed; the next start begins a new epoch');
    this.history?.close();
    this.xpub.close();
    this.stopZap?.();
  }
}

/**
 * The epoch this ingester publishes under (see the epoch rule at the top). A new epoch deletes the
 * old epoch's history before it is stored, so nothing is published under it while old entries
 * remain. A crash in between is harmless: the marker is already consumed, so the next start makes
 * yet another epoch and deletes again.
 */
async function resolveEpoch(redis: Redis, log: Logger): Promise<string> {
  const marker = await redis.getdel(Keys.cleanShutdown);
  const stored = await redis.get(Keys.epoch);
  if (stored !== null && marker === stored && isEpochString(stored)) {
    log.info({ epoch: stored }, 'clean restart: keeping the epoch, seqs continue from the saved books');
    return stored;
  }
  const reason = stored === null ? 'no stored epoch (first start, or Redis lost its data)'
    : !isEpochString(stored) ? 'the stored epoch is not a UUID'
    : marker === null ? 'no clean-shutdown marker (the previous ingester crashed or could not flush)'
    : 'the clean-shutdown marker names another epoch';
  const epoch = randomUUID();
  const deletedStreams = await deleteAllHistory(redis);
  await redis.set(Keys.epoch, epoch);
  // A first start is routine; any other new epoch means clients see `epoch` and lose `since`.
  log[stored === null ? 'info' : 'warn']({ epoch, previous: stored, reason, deletedStreams }, 'new epoch: seq continuity could not be proven');
  return epoch;
}

function newBook(token: number, now: number): TokenBook {
  return { seq: 0, last: undefined, held: undefined, topic: tokenTopic(token), freshAt: now, stale: false };
}
