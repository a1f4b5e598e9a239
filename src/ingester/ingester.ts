/**
 * The ingester: SUB to every feed endpoint → validate (§3) → assign per-token `seq` → encode once
 * per mode → XPUB at INGEST_BIND, where gateway workers subscribe to exactly the tokens their
 * clients want. Keeps each token's newest tick in memory and (batched) in Redis so gateways can
 * send snapshots and a restarted ingester continues every token's seq.
 *
 * Bad feed input is counted per reason, logged at a bounded rate, and skipped; nothing a feed
 * sends can stop this process.
 */
import { randomUUID } from 'node:crypto';
import * as zmq from 'zeromq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../../config/index.ts';
import { encodeTick, type Tick, type TickData } from '../protocol/tick.ts';
import { BROADCAST_TOPIC, tokenOfTopic, tokenTopic } from '../protocol/topics.ts';
import { Keys } from '../store/keys.ts';
import { parseFeedMessage, type FeedRejection } from './feed-message.ts';
import { RateLimitedLog } from './rate-limited-log.ts';

/** How often the newest ticks are written to Redis (one pipelined HSET per period). */
const PERSIST_EVERY_MS = 100;
/** Ingester heartbeat on the broadcast topic: gateways use it to report the ingester link. */
export const INGEST_HEARTBEAT_MS = 1_000;

export interface TokenBook {
  seq: number;
  last: Tick | undefined;
  /** The token's ZeroMQ topic frame, built once. */
  topic: Buffer;
}

export interface IngesterStats {
  ticksIn: number;
  ticksOut: number;
  rejected: Record<string, number>;
}

export class Ingester {
  readonly epoch: string;
  readonly stats: IngesterStats = { ticksIn: 0, ticksOut: 0, rejected: {} };
  /** Tokens with at least one subscribed gateway, as seen on the XPUB. */
  readonly demand = new Set<number>();
  private readonly books = new Map<number, TokenBook>();
  private readonly dirty = new Set<number>();
  private readonly feed = new zmq.Subscriber();
  private readonly xpub = new zmq.XPublisher();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly badInputLog: RateLimitedLog;
  private closed = false;
  private persisting: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly config: Config,
    private readonly redis: Redis,
    private readonly log: Logger,
    epoch: string,
  ) {
    this.epoch = epoch;
    this.badInputLog = new RateLimitedLog(log, 10_000);
  }

  /** Restores seqs and newest values from Redis, binds the XPUB and connects to the feeds. */
  static async start(config: Config, redis: Redis, log: Logger): Promise<Ingester> {
    // The epoch names this seq numbering; it changes only when Redis lost the last values.
    await redis.set(Keys.epoch, randomUUID(), 'NX');
    const epoch = (await redis.get(Keys.epoch))!;
    const ing = new Ingester(config, redis, log, epoch);
    const saved = await redis.hgetall(Keys.lastTicks);
    for (const [token, json] of Object.entries(saved)) {
      try {
        const tick = JSON.parse(json) as Tick;
        ing.books.set(Number(token), { seq: tick.seq, last: tick, topic: tokenTopic(Number(token)) });
      } catch {
        log.warn({ token }, 'ignoring an unreadable saved tick');
      }
    }
    ing.xpub.sendHighWaterMark = 100_000;
    ing.xpub.sendTimeout = 0; // see send()
    // Every subscribe reaches us (so each joining gateway gets a prompt heartbeat); unsubscribes
    // arrive only when a topic's last subscriber leaves, which keeps `demand` exact.
    ing.xpub.verbosity = 'allSubs';
    await ing.xpub.bind(config.ingestBind);
    ing.feed.receiveHighWaterMark = 100_000;
    for (const ep of config.feedEndpoints) ing.feed.connect(ep);
    ing.feed.subscribe();
    void ing.feedLoop();
    void ing.subscriptionLoop();
    ing.timers.push(setInterval(() => ing.persist(), PERSIST_EVERY_MS));
    ing.timers.push(setInterval(() => ing.broadcast({ type: 'hb', epoch }), INGEST_HEARTBEAT_MS));
    ing.broadcast({ type: 'hb', epoch });
    log.info({ feeds: config.feedEndpoints, bind: config.ingestBind, tokens: ing.books.size, epoch }, 'ingester started');
    return ing;
  }

  get tokenCount(): number {
    return this.books.size;
  }

  /** The newest tick of a token, if any. */
  lastTick(token: number): Tick | undefined {
    return this.books.get(token)?.last;
  }

  private async feedLoop(): Promise<void> {
    try {
      for await (const frames of this.feed) this.onFeedMessage(frames);
    } catch (err) {
      if (!this.closed) this.log.fatal({ err }, 'feed socket failed');
    }
  }

  private onFeedMessage(frames: Buffer[]): void {
    const r = parseFeedMessage(frames, Date.now());
    if (!r.ok) return this.reject(r.reason);
    this.stats.ticksIn++;
    this.publishTick(r.tick);
  }

  private reject(reason: FeedRejection): void {
    this.stats.rejected[reason] = (this.stats.rejected[reason] ?? 0) + 1;
    this.badInputLog.warn(reason, 'skipped a malformed feed message');
  }

  /** Hot path: one seq increment, three encodings, one XPUB send. */
  private publishTick(data: TickData): void {
    let book = this.books.get(data.token);
    if (book === undefined) {
      book = { seq: 0, last: undefined, topic: tokenTopic(data.token) };
      this.books.set(data.token, book);
    }
    const tick = data as Tick;
    tick.seq = ++book.seq;
    book.last = tick;
    this.dirty.add(tick.token);
    this.send([book.topic, encodeTick(tick, 'ltp'), encodeTick(tick, 'quote'), encodeTick(tick, 'full')]);
    this.stats.ticksOut++;
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

  /** An ingester-wide message to every connected gateway. */
  broadcast(msg: object): void {
    this.send([BROADCAST_TOPIC, JSON.stringify(msg)]);
  }

  /**
   * XPUB hands up one message per subscription change that matters: the first subscriber of a
   * topic (`0x01` + topic) and the last one leaving (`0x00` + topic), including gateways that
   * disconnect. That is exactly the demand set.
   */
  private async subscriptionLoop(): Promise<void> {
    try {
      for await (const [msg] of this.xpub) {
        if (!msg || msg.length < 1) continue;
        const token = tokenOfTopic(msg.subarray(1));
        if (msg[0] === 1) {
          if (token !== undefined) this.demand.add(token);
          // A (re)joining gateway needs a heartbeat promptly to report the link up.
          else if (msg.subarray(1).equals(BROADCAST_TOPIC)) this.broadcast({ type: 'hb', epoch: this.epoch });
        } else if (msg[0] === 0 && token !== undefined) this.demand.delete(token);
      }
    } catch (err) {
      if (!this.closed) this.log.fatal({ err }, 'xpub socket failed');
    }
  }

  private persist(): void {
    if (this.dirty.size === 0 || this.redis.status !== 'ready') return;
    const fields: string[] = [];
    for (const token of this.dirty) {
      const last = this.books.get(token)?.last;
      if (last) fields.push(String(token), JSON.stringify(last));
    }
    this.dirty.clear();
    this.persisting = this.redis.hset(Keys.lastTicks, ...fields).catch((err: Error) => {
      this.log.warn({ err: err.message }, 'could not persist newest ticks; will retry');
      for (let i = 0; i < fields.length; i += 2) this.dirty.add(Number(fields[i]));
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.persist();
    await this.persisting;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.feed.close();
    this.xpub.close();
  }
}
