/**
 * The ingester: SUB to every feed endpoint → validate (§3) → assign per-token `seq` → encode once
 * per mode → XPUB at INGEST_BIND, where gateway workers subscribe to exactly the tokens their
 * clients want. Keeps each token's newest tick in memory and (batched) in Redis so gateways can
 * send snapshots and a restarted ingester continues every token's seq.
 *
 * Control plane (§4): a REP socket at CONTROL_BIND (control-server.ts); control-commands.ts
 * carries out its requests. Paused tokens are tracked but not published; `stale` (stale-scan.ts) /
 * `live` / `paused` status events travel on the token's own topic, so exactly its subscribers get
 * them.
 *
 * Seq rule: `seq` counts published ticks only. A value received while its token is paused is
 * held without a seq (the newest one replaces the previous); resume publishes it with the next
 * seq, as a snapshot. So live clients never see a seq gap from a pause, and the same seq never
 * names two different values.
 *
 * Bad feed input is counted per reason, logged at a bounded rate, and skipped; nothing a feed
 * sends can stop this process.
 *
 * Epoch rule: under one epoch a (token, seq) pair names one tick forever; see epoch.ts for when the
 * epoch is kept and why a new one is always safe.
 */
import * as zmq from 'zeromq';
import type { Redis } from 'ioredis';
import { loadServerCurve, refuseOpenBinds, serverOptions, startZapHandler, type ServerCurve } from '../zmq/curve.ts';
import type { Logger } from 'pino';
import type { Config } from '../../config/index.ts';
import type { TokenState } from '../protocol/server-messages.ts';
import { depthJson, encodeTickModes, tickText, type Tick, type TickData } from '../protocol/tick.ts';
import { encodeTickHead, epochBytes } from '../protocol/tick-meta.ts';
import { BROADCAST_TOPIC } from '../protocol/topics.ts';
import { HistoryWriter } from '../store/history-writer.ts';
import { Keys } from '../store/keys.ts';
import { Books, newBook, type TokenBook } from './books.ts';
import { ControlCommands } from './control-commands.ts';
import { ControlServer } from './control-server.ts';
import { resolveEpoch } from './epoch.ts';
import { parseFeedMessage, type FeedRejection } from './feed-message.ts';
import { PauseState } from './pause-state.ts';
import { RateLimitedLog } from './rate-limited-log.ts';
import { scanStale, staleScanEveryMs } from './stale-scan.ts';
import { loadSeqFloor, TokenEviction } from './token-eviction.ts';
import { XpubSubscribers } from './xpub-subscribers.ts';
import { enableHeartbeats } from '../zmq/heartbeat.ts';
import { receiveLoop } from '../zmq/receive-loop.ts';

/** How often changed newest ticks, held values and stale flags are written to Redis (one pipeline per period). */
const PERSIST_EVERY_MS = 100;
/** Ingester heartbeat on the broadcast topic: gateways use it to report the ingester link. */
export const INGEST_HEARTBEAT_MS = 1_000;
/**
 * Most tick messages held back for one send run (see `outbox`): the longest a tick waits is this
 * many other ticks' processing (20-30 µs each on the development machine), under half a
 * millisecond; a tick alone in its burst waits one turn of the event loop.
 */
const OUTBOX_MAX = 16;

export interface IngesterStats {
  ticksIn: number;
  ticksOut: number;
  rejected: Record<string, number>;
  /** Tokens forgotten after TOKEN_FORGET_S without a tick (token-eviction.ts). */
  tokensForgotten: number;
}

export class Ingester {
  readonly epoch: string;
  /** The epoch's 16 UUID bytes, the head of every tick meta frame. */
  private readonly epochRaw: Buffer;
  /** Writes each published tick to its history stream; absent with HISTORY_SIZE=0. */
  readonly history: HistoryWriter | undefined;
  readonly stats: IngesterStats = { ticksIn: 0, ticksOut: 0, rejected: {}, tokensForgotten: 0 };
  /** Demand and connected workers, as the XPUB reports them; a joining gateway gets a heartbeat at once. */
  private readonly subscribers = new XpubSubscribers(() => this.broadcast({ type: 'hb', epoch: this.epoch }));
  private readonly books: Books;
  private readonly eviction: TokenEviction;
  private readonly feed = new zmq.Subscriber();
  private readonly xpub: zmq.XPublisher;
  /** With ZMQ_CURVE_DIR: the server sockets' own context, its ZAP handler and the keys. */
  private readonly curve: { context: zmq.Context; keys: ServerCurve } | undefined;
  private stopZap: (() => void) | undefined;
  private control: ControlServer | undefined;
  private readonly commands: ControlCommands;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly badInputLog: RateLimitedLog;
  /**
   * Tick messages of the current receive burst, sent back to back once the burst is read (or
   * OUTBOX_MAX are waiting). A send that finds ZeroMQ's I/O thread asleep wakes it (an eventfd
   * write, a wake-up, a TCP send of its own); ticks sent one by one between parses paid that for
   * most ticks, a run of sends is picked up by one wake-up. Micro-benchmark, CPU of all the
   * process's threads: ~7.7 µs per send back to back, ~11.4 µs with sends 20 µs apart.
   */
  private readonly outbox: (Buffer | string)[][] = [];
  private flushQueued = false;
  private closed = false;

  private constructor(
    config: Config,
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
    this.books = new Books(redis, log);
    this.eviction = new TokenEviction({
      books: this.books, redis, log, history: this.history, forgetMs: config.tokenForgetS * 1_000,
      keep: (token) => this.paused.pausedTokens.has(token) || this.subscribers.demand.has(token),
      onForgotten: (n) => (this.stats.tokensForgotten += n),
    });
    // Closures over the private tick-path methods: called per control request, never per tick.
    this.commands = new ControlCommands({
      redis, log, books: this.books, paused, stats: this.stats, subscribers: this.subscribers,
      broadcast: (msg) => this.broadcast(msg),
      sendStatus: (topic, token, state) => this.sendStatus(topic, token, state),
      publishSnapshot: (book, data) => this.publish(book, data, undefined, true),
      resendSnapshot: (book, tick) => this.sendTick(book, tick, true),
    });
  }

  /**
   * Restores seqs, newest values and pause state from Redis, binds the XPUB and the control
   * socket and connects to the feeds.
   */
  static async start(config: Config, redis: Redis, log: Logger): Promise<Ingester> {
    refuseOpenBinds(config);
    const epoch = await resolveEpoch(redis, log);
    const ing = new Ingester(config, redis, log, epoch, await PauseState.load(redis));
    ing.books.seqFloor = await loadSeqFloor(redis);
    await ing.books.restore(ing.paused, ing.history);
    await ing.eviction.restore();
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
      ing.control = await ControlServer.start(config.controlBind, (req) => ing.commands.handle(req), log, ing.serverSocketOptions());
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
    receiveLoop(ing.xpub, (frames) => ing.subscribers.onMessage(frames), { what: 'xpub', log, closed });
    ing.timers.push(setInterval(() => ing.books.persist(), PERSIST_EVERY_MS));
    ing.timers.push(setInterval(() => ing.broadcast({ type: 'hb', epoch }), INGEST_HEARTBEAT_MS));
    const reportStale = (topic: Buffer, token: number) => ing.sendStatus(topic, token, 'stale');
    ing.timers.push(setInterval(() => scanStale(ing.books, ing.paused, config.staleMs, reportStale), staleScanEveryMs(config.staleMs)));
    ing.timers.push(setInterval(() => ing.eviction.scan(), ing.eviction.everyMs));
    ing.broadcast({ type: 'hb', epoch });
    log.info({
      feeds: config.feedEndpoints, bind: config.ingestBind, control: config.controlBind, tokens: ing.books.size, epoch,
      paused: ing.paused.reply,
    }, 'ingester started');
    return ing;
  }

  private onFeedMessage(frames: Buffer[]): void {
    // Closing: the final flush has started, so no further seq may be issued.
    if (this.closed) return;
    const now = Date.now();
    const r = parseFeedMessage(frames, now);
    if (!r.ok) return this.reject(r.reason);
    this.stats.ticksIn++;
    this.onTick(r.tick, r.source, now);
  }

  private reject(reason: FeedRejection): void {
    this.stats.rejected[reason] = (this.stats.rejected[reason] ?? 0) + 1;
    this.badInputLog.warn(reason, 'skipped a malformed feed message');
  }

  /**
   * Hot path: a pause check, one seq increment, and, when some gateway wants the token, one
   * encoding pass and one XPUB send. `source`: the feed's bytes of the tick, for the history.
   */
  private onTick(data: TickData, source: Buffer | undefined, now: number): void {
    let book = this.books.get(data.token);
    if (book === undefined) {
      book = newBook(data.token, now, this.books.seqFloor);
      this.books.set(data.token, book);
    }
    book.freshAt = now;
    if (this.paused.has(data.token)) {
      book.held = data;
      this.books.dirtyHeld.add(data.token);
      return;
    }
    if (book.stale) {
      // "live" goes out right before the tick that ends the silence, on the same topic.
      book.stale = false;
      this.books.dirtyStale.add(data.token);
      this.sendStatus(book.topic, data.token, 'live');
    }
    this.publish(book, data, source, false);
  }

  /** Assigns the next seq, sends the tick if wanted and queues it for history. */
  private publish(book: TokenBook, data: TickData, source: Buffer | undefined, snapshot: boolean): void {
    if (this.closed) return;
    const tick = data as Tick;
    tick.seq = ++book.seq;
    book.last = tick;
    this.books.dirty.add(tick.token);
    this.sendTick(book, tick, snapshot);
    this.history?.add(tick, source);
    this.stats.ticksOut++;
  }

  /**
   * `[topic + meta + lengths, ltp + quote + full]` (tick-meta.ts), encoded in one pass; nothing at
   * all when no gateway subscribes to the token (the XPUB would drop it).
   */
  private sendTick(book: TokenBook, tick: Tick, snapshot: boolean): void {
    if (!this.subscribers.wants(book.topic, tick.token)) return;
    if (tick.depth) book.depth = depthJson(tick.depth, book.depth);
    const [ltp, quote, full] = encodeTickModes(book.prefix, tick.seq, tickText(tick, 'full', tick.depth && book.depth?.json), snapshot);
    if (this.outbox.push([encodeTickHead(book.topic, this.epochRaw, tick.seq, ltp.length, quote.length), ltp + quote + full]) >= OUTBOX_MAX) {
      this.flushOutbox();
    } else if (!this.flushQueued) {
      // An immediate runs once the receive loop has read every message waiting (its synchronous
      // receives chain in microtasks), i.e. at the end of the burst.
      this.flushQueued = true;
      setImmediate(this.onFlushImmediate);
    }
  }

  private readonly onFlushImmediate = (): void => {
    this.flushQueued = false;
    this.flushOutbox();
  };

  /** Sends the ticks waiting in the outbox, in order. */
  private flushOutbox(): void {
    for (const frames of this.outbox) this.send(frames);
    this.outbox.length = 0;
  }

  /** A token-scoped status event for every subscriber of `token`, in any mode. */
  private sendStatus(topic: Buffer, token: number, state: TokenState): void {
    this.sendNow([topic, JSON.stringify({ type: 'status', tokens: [token], state })]);
  }

  /** Sends a non-tick message after the ticks waiting, so the topic keeps its order. */
  private sendNow(frames: (Buffer | string)[]): void {
    this.flushOutbox();
    this.send(frames);
  }

  /**
   * Sends on the XPUB. PUB-type sockets never block (they drop at a subscriber's HWM), and with a
   * zero send timeout each send completes synchronously, so sends never overlap and need no queue.
   */
  private send(frames: (Buffer | string)[]): void {
    if (this.closed) return;
    this.xpub.send(frames).catch(this.onSendError);
  }

  private readonly onSendError = (err: unknown): void => {
    if (!this.closed) this.log.error({ err }, 'xpub send failed');
  };

  private serverSocketOptions() {
    return this.curve ? { context: this.curve.context, ...serverOptions(this.curve.keys) } : {};
  }

  /** An ingester-wide message to every connected gateway. */
  broadcast(msg: object): void {
    this.sendNow([BROADCAST_TOPIC, JSON.stringify(msg)]);
  }

  /** Tokens in the books (`status` reports it). */
  get tokenCount(): number {
    return this.books.size;
  }

  /** Tokens with at least one subscribed gateway, as seen on the XPUB. */
  get demand(): ReadonlySet<number> {
    return this.subscribers.demand;
  }

  /**
   * Clean stop: no further seq is issued, everything is flushed (newest ticks, held values, stale
   * set, history), and only when all of it reached Redis the clean-shutdown marker is written, so
   * the next start keeps the epoch. If anything failed, no marker: the next start opens a new
   * epoch, which is always safe.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.flushOutbox();
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.control?.close();
    this.feed.close();
    let clean = false;
    try {
      await this.books.persisting;
      // The eviction's write does not gate the marker: a forgotten token whose keys are still in
      // Redis is restored with its seq, which is just as continuous (token-eviction.ts).
      const [saved, historySaved] = await Promise.all([this.books.persist(), this.history?.flush() ?? Promise.resolve(true), this.eviction.close()]);
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
