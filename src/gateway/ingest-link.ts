/**
 * A gateway worker's link to the ingester: one ZeroMQ SUB connected to INGEST_BIND.
 *
 * It subscribes a token exactly while some local socket wants it (on a uWS topic of any mode or
 * throttle, or held by a subscribe that is still joining): uWS reports every topic's subscriber
 * count through its `subscription` handler, and the first interest in a token and the last one
 * leaving become ZeroMQ subscribe / unsubscribe. The ingester therefore sends this worker only the
 * tokens its clients want.
 *
 * The tick path: a tick message (two frames, tick-meta.ts) is split into the views `[topic, meta,
 * ltp, quote, full]` and goes to the token's stream (token-stream.ts), which checks the seq in the
 * binary meta and publishes the bytes, untouched, to the token's three uWS topics. No JSON work,
 * no actor, no per-recipient work.
 *
 * Beyond ticks the link watches two things for every subscriber: the epoch (every tick's meta and
 * every heartbeat carry it; a new one means the ingester lost its numbering — clients get an
 * `epoch` message, then fresh snapshots) and liveness (no heartbeat for LINK_FRESH_MS: every
 * token's subscribers get `stale`; when heartbeats return, the token's state and a snapshot).
 */
import { randomUUID } from 'node:crypto';
import * as zmq from 'zeromq';
import { clientOptions, type ClientCurve } from '../zmq/curve.ts';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { TokenState } from '../protocol/server-messages.ts';
import { epochBytes, epochString, isEpochString, isTickMeta, splitTickMessage, tickMetaEpoch, tickMetaEpochEquals } from '../protocol/tick-meta.ts';
import { BROADCAST_TOPIC, parseWsTopic, tokenOfTopic, tokenTopic, workerTopic, wsTopics } from '../protocol/topics.ts';
import type { Mode } from '../protocol/tick.ts';
import { readHistory } from '../store/history.ts';
import { enableHeartbeats } from '../zmq/heartbeat.ts';
import { receiveLoop } from '../zmq/receive-loop.ts';
import { QuietTailCheck } from './quiet-tail-check.ts';
import { ThrottleTimers } from './throttle-timers.ts';
import { readTokenNewest } from './token-store.ts';
import { MODE_INDEX, readStateOf } from './tick-frames.ts';
import { TokenStream, type LinkStats, type TokenStreamDeps } from './token-stream.ts';
import type { TemplatedApp } from './uws.ts';

/** The link is up while an ingester heartbeat (every second) arrived within this window. */
export const LINK_FRESH_MS = 3_500;
const LINK_CHECK_MS = 250;

/**
 * How many bytes of ticks may be published between two samples of the sockets' send buffers.
 * The timer in ws-route.ts samples them, but a burst from the ingester is handled in one long run
 * of promise continuations (each ZeroMQ receive resolves at once while messages are queued) that
 * no timer interrupts: a socket that stopped reading went from nothing past uWS's 4 MiB limit
 * unseen, and uWS dropped it. Checked after each tick, this bounds a socket's send buffer by the
 * conflation threshold + this + one tick, far below that limit; it costs a sample per MiB
 * published (about a millisecond for 19,000 sockets; at 10,000 ticks/s, ~10 a second).
 */
export const SEND_BUDGET_BYTES = 1024 * 1024;

export interface BroadcastMessage { type: string; [k: string]: unknown }

export interface IngestLinkOptions {
  app: TemplatedApp;
  endpoint: string;
  redis: Redis;
  log: Logger;
  /** ZeroMQ receive high-water mark of the SUB (ticks beyond it are dropped upstream, then recovered). */
  receiveHighWaterMark?: number;
  /** Operator broadcasts (notify, announce, disconnect). */
  onBroadcast?: (msg: BroadcastMessage) => void;
  /** A new epoch: every socket is told before the fresh snapshots follow. */
  onEpoch?: (epoch: string) => void;
  /** A sampled published tick's ltp encoding (see TokenStreamDeps). */
  onLatencySample?: (ltpJson: Buffer | string) => void;
  /** CURVE keys when ZMQ_CURVE_DIR is set (the ingester admits only listed client keys). */
  curve?: ClientCurve;
}

export class IngestLink {
  ticksIn = 0;
  readonly stats: LinkStats = { gapsDetected: 0, ticksRecovered: 0, gapMessages: 0, ticksLost: 0, duplicates: 0, heldOverflow: 0, ticksForwarded: 0, deliveries: [0, 0, 0], bytesPublished: 0 };
  /** Samples every socket's send buffer when a burst has published SEND_BUDGET_BYTES (ws-route.ts). */
  onSendBudgetSpent: (() => void) | undefined;
  private sendBudgetEnd = SEND_BUDGET_BYTES;
  /** Names this worker's own ZeroMQ topic, by which the ingester counts connected workers. */
  readonly linkId = randomUUID();
  private epochRaw: Buffer | undefined;
  private lastHeartbeatAt = 0;
  private wasUp = false;
  private everUp = false;
  private readonly sub: zmq.Subscriber;
  private readonly streams = new Map<number, TokenStream>();
  private readonly throttles: ThrottleTimers;
  private readonly streamDeps: TokenStreamDeps;
  private readonly tailCheck: QuietTailCheck;
  private closed = false;
  private liveness: NodeJS.Timeout | undefined;

  constructor(private readonly opts: IngestLinkOptions) {
    this.sub = new zmq.Subscriber(opts.curve ? clientOptions(opts.curve) : {});
    this.throttles = new ThrottleTimers(opts.app);
    this.streamDeps = {
      app: opts.app,
      log: opts.log,
      stats: this.stats,
      onLatencySample: opts.onLatencySample,
      readNewest: (token) => readTokenNewest(opts.redis, token),
      readHistory: (token, after) => readHistory(opts.redis, token, after),
      isCurrent: (s) => this.streams.get(s.token) === s,
    };
    this.tailCheck = new QuietTailCheck(opts.redis, opts.log, this.streamDeps.isCurrent);
  }

  start(): void {
    this.sub.receiveHighWaterMark = this.opts.receiveHighWaterMark ?? 100_000;
    enableHeartbeats(this.sub);
    this.sub.connect(this.opts.endpoint);
    this.sub.subscribe(BROADCAST_TOPIC);
    this.sub.subscribe(workerTopic(this.linkId));
    receiveLoop(this.sub, (frames) => this.onMessage(frames), { what: 'ingest link', log: this.opts.log, closed: () => this.closed });
    this.liveness = setInterval(() => this.checkLiveness(), LINK_CHECK_MS);
  }

  get up(): boolean {
    return Date.now() - this.lastHeartbeatAt < LINK_FRESH_MS;
  }

  /** The current epoch, once a heartbeat or tick told it. */
  get epoch(): string | undefined {
    return this.epochRaw ? epochString(this.epochRaw) : undefined;
  }

  /** Tokens this worker currently forwards. */
  get subscribedTokens(): number[] {
    return [...this.streams.keys()];
  }

  stream(token: number): TokenStream | undefined {
    return this.streams.get(token);
  }

  /** The newest tick of a token in one mode, if this worker forwards it and knows one. */
  latest(token: number, mode: Mode): Buffer | string | undefined {
    return this.streams.get(token)?.latest?.[MODE_INDEX[mode]];
  }

  /** The state the ingester last reported for a token this worker forwards (undefined: live). */
  tokenState(token: number): TokenState | undefined {
    return this.streams.get(token)?.state;
  }

  /**
   * Keeps a token forwarded without a uWS topic subscription (a subscribe still joining, a
   * conflating socket). Every hold is matched by one `release`.
   */
  hold(token: number): TokenStream {
    return this.addInterest(token, 1)!;
  }

  release(token: number): void {
    this.addInterest(token, -1);
  }

  /** uWS `subscription` handler: called with the new and old subscriber count of a topic. */
  onTopicCount(topic: string, newCount: number, oldCount: number): void {
    const parsed = parseWsTopic(topic);
    if (!parsed) return;
    const stream = this.addInterest(parsed.token, newCount - oldCount);
    if (parsed.throttleMs > 0 && stream) this.throttles.onTopicCount(topic, stream, MODE_INDEX[parsed.mode], parsed.throttleMs, newCount);
  }

  private addInterest(token: number, delta: number): TokenStream | undefined {
    let stream = this.streams.get(token);
    if (!stream) {
      if (delta <= 0) return undefined;
      stream = new TokenStream(token, wsTopics(token), this.streamDeps);
      this.streams.set(token, stream);
      this.sub.subscribe(tokenTopic(token));
    }
    stream.count += delta;
    if (stream.count <= 0) {
      this.streams.delete(token);
      if (!this.closed) this.sub.unsubscribe(tokenTopic(token));
    }
    return stream;
  }

  private onMessage(message: Buffer[]): void {
    // A tick arrives as two frames; its stream handles the views [topic, meta, ltp, quote, full].
    const frames = splitTickMessage(message) ?? message;
    const topic = frames[0]!;
    const token = tokenOfTopic(topic);
    if (token !== undefined) {
      const stream = this.streams.get(token);
      if (!stream) return; // raced with an unsubscribe
      if (frames.length === 5 && isTickMeta(frames[1]!)) {
        this.ticksIn++;
        const meta = frames[1]!;
        if (this.epochRaw === undefined || !tickMetaEpochEquals(meta, this.epochRaw)) {
          if (this.changeEpoch(tickMetaEpoch(meta), frames, stream)) return;
        }
        stream.onTick(frames);
        if (this.stats.bytesPublished >= this.sendBudgetEnd) this.sendBudgetSpent();
      } else if (frames.length === 2) {
        stream.onStatus(frames, readStateOf(frames[1]!));
      }
      return;
    }
    if (topic.equals(BROADCAST_TOPIC) && frames.length === 2) {
      let msg: BroadcastMessage;
      try {
        msg = JSON.parse(frames[1]!.toString('utf8')) as BroadcastMessage;
      } catch {
        this.opts.log.warn('unreadable broadcast from the ingester');
        return;
      }
      if (msg.type === 'hb') return this.onHeartbeat(msg);
      this.opts.onBroadcast?.(msg);
    }
  }

  /**
   * Send buffers were just sampled: the budget starts again. A socket found over the threshold
   * conflates (gets nothing more from the topics), so until the next sample none can grow by more
   * than what is published meanwhile.
   */
  sendBuffersSampled(): void {
    this.sendBudgetEnd = this.stats.bytesPublished + SEND_BUDGET_BYTES;
  }

  private sendBudgetSpent(): void {
    this.sendBuffersSampled();
    this.onSendBudgetSpent?.();
  }

  private onHeartbeat(msg: BroadcastMessage): void {
    this.lastHeartbeatAt = Date.now();
    const relinked = !this.wasUp && this.everUp;
    this.wasUp = true;
    this.everUp = true;
    const changed = typeof msg.epoch === 'string' && isEpochString(msg.epoch)
      && this.changeEpoch(epochBytes(msg.epoch), undefined, undefined, relinked);
    if (relinked && !changed) {
      this.opts.log.info({ tokens: this.streams.size }, 'ingester link back: catching up every token');
      for (const s of this.streams.values()) s.linkUp();
    }
  }

  /**
   * Adopts an epoch. The first one is simply learnt; a different one later means the ingester
   * restarted without its numbering: every socket gets `epoch`, every stream starts over (its
   * fresh snapshot follows). `frames` is the tick that revealed it, held by its own stream.
   * Returns true when it was a change.
   */
  private changeEpoch(raw: Buffer, frames?: Buffer[], revealedBy?: TokenStream, relinked = false): boolean {
    const first = this.epochRaw === undefined;
    if (!first && raw.equals(this.epochRaw!)) return false;
    this.epochRaw = Buffer.from(raw);
    if (first) return false;
    const epoch = epochString(raw);
    this.opts.log.warn({ epoch, tokens: this.streams.size }, 'new ingester epoch: numbering restarted, sending fresh snapshots');
    this.opts.onEpoch?.(epoch);
    for (const s of this.streams.values()) {
      if (relinked) s.publishState();
      s.restartEpoch(s === revealedBy ? frames : undefined);
    }
    return true;
  }

  private checkLiveness(): void {
    // Ticks lost at the end of a burst show only against Redis (quiet-tail-check.ts).
    if (this.wasUp && this.up) this.tailCheck.run(this.streams.values());
    if (!this.wasUp || this.up) return;
    this.wasUp = false;
    this.opts.log.warn({ tokens: this.streams.size, silentMs: Date.now() - this.lastHeartbeatAt }, 'ingester link down: tokens reported stale');
    for (const s of this.streams.values()) s.linkDown();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.liveness);
    this.throttles.close();
    this.sub.close();
  }
}
