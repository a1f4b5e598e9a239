/**
 * The bench's market feed: a ZeroMQ PUB in the contract's two-frame format (§3), publishing a
 * fixed total rate round-robin over its tokens, so every token ticks at the same steady rate and
 * warm-up ends predictably. Each tick's `ts` is Date.now() taken right before its send: clients in
 * this same process subtract it from their receipt time, so the latency covers feed → ingester →
 * gateway → client and needs no clock agreement beyond one machine.
 */
import * as zmq from 'zeromq';
import { makeInstruments, step, type Instrument } from '../feed/simulator.ts';

/** Publishing happens in small batches; a short period keeps each batch small. */
const PUBLISH_EVERY_MS = 5;

export class FeedPublisher {
  readonly tokens: readonly number[];
  /** Ticks published since start. */
  published = 0;
  /**
   * Deliveries those ticks call for: the sum, over published ticks, of the subscriber count of
   * their token (see `setSubscribers`). Compared with what clients received, it shows whether the
   * server kept up.
   */
  expectedDeliveries = 0;
  private readonly instruments: Instrument[];
  private readonly subscribers: Uint32Array;
  private readonly pub = new zmq.Publisher();
  private timer: NodeJS.Timeout | undefined;
  private next = 0;
  private closed = false;

  private constructor(tokenCount: number, private ratePerSec: number) {
    this.instruments = makeInstruments(tokenCount);
    this.tokens = this.instruments.map((i) => i.token);
    this.subscribers = new Uint32Array(tokenCount);
  }

  static async bind(endpoint: string, tokenCount: number, ratePerSec: number): Promise<FeedPublisher> {
    const feed = new FeedPublisher(tokenCount, ratePerSec);
    feed.pub.sendHighWaterMark = 1_000_000;
    // A PUB never blocks (it drops at the HWM); with a zero send timeout every send completes
    // synchronously, so sends never overlap.
    feed.pub.sendTimeout = 0;
    await feed.pub.bind(endpoint);
    return feed;
  }

  /** How many client sockets are subscribed to each token (same order as `tokens`). */
  setSubscribers(counts: ArrayLike<number>): void {
    for (let i = 0; i < this.subscribers.length; i++) this.subscribers[i] = counts[i] ?? 0;
  }

  get rate(): number {
    return this.ratePerSec;
  }

  /** Changes the offered rate from the next batch on (the ramp's steps). */
  setRate(ratePerSec: number): void {
    this.ratePerSec = ratePerSec;
  }

  /**
   * Publishes `rate × elapsed` ticks every few milliseconds, carrying the fraction over. A late
   * timer (a busy event loop) is caught up in one larger batch, so the average rate holds.
   */
  start(): void {
    if (this.timer) return;
    let last = performance.now();
    let owed = 0;
    this.timer = setInterval(() => {
      const now = performance.now();
      owed += ((now - last) / 1000) * this.ratePerSec;
      last = now;
      let n = Math.floor(owed);
      owed -= n;
      while (n-- > 0 && !this.closed) this.publishOne();
    }, PUBLISH_EVERY_MS);
  }

  private publishOne(): void {
    const i = this.next;
    this.next = (i + 1) % this.instruments.length;
    const inst = this.instruments[i]!;
    const tick = step(inst) as { ts: number };
    tick.ts = Date.now();
    // A PUB drops rather than blocks, so a send fails only if the socket itself does. Such a tick
    // still counts as published and expected: it shows up as a delivery shortfall in the result.
    this.pub.send([String(inst.token), JSON.stringify(tick)]).catch(() => undefined);
    this.published++;
    this.expectedDeliveries += this.subscribers[i]!;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.pub.close();
  }
}
