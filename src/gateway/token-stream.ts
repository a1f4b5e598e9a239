/**
 * One token as this worker forwards it: the seq promise of §6 kept at the worker.
 *
 * Every tick arrives with its seq in a binary meta frame (tick-meta.ts), so continuity is checked
 * without parsing JSON: the next seq is forwarded to the token's uWS topics, bytes untouched; an
 * older one is a duplicate and dropped (the same seq again is the ingester re-sending its newest
 * value on resume, and forwarded); a jump means ticks were lost upstream (a ZeroMQ high-water
 * mark, a reconnect). Then the stream holds back what arrives, reads the missing ticks from the
 * history in Redis and forwards them in order before the held ticks; what history cannot give is
 * reported to the subscribers as one `gap` message naming exactly the lost range (history-fill.ts).
 * So a subscriber on the topic sees every seq, or a `gap` for the ones it will never see.
 *
 * The same hold-and-fill serves the other moments a stream must (re)establish where it stands:
 * the first interest (`cold`: newest value and pause state from Redis), a new epoch (`epoch`: the
 * old numbering is void; fresh snapshots follow), the ingester link coming back (`relink`), and
 * Redis holding ticks a quiet token never delivered here (`tail`, quiet-tail-check.ts).
 *
 * Invariant the subscribe path relies on: at any moment, `seq` / `latest` is the newest tick the
 * topics have carried (or, once known, would have carried), and the next tick published to the
 * topics is seq + 1, a `gap` starting there, or a snapshot. A socket that is sent `latest` and put
 * on the topic in one synchronous step therefore joins without a hole.
 */
import type { Logger } from 'pino';
import type { TokenState } from '../protocol/server-messages.ts';
import type { Tick } from '../protocol/tick.ts';
import { readTickMetaSeq } from '../protocol/tick-meta.ts';
import type { HistoryRead } from '../store/history.ts';
import { fillFromHistory } from './history-fill.ts';
import { encodeAll, readStateOf, withSnapshotFlag, type Encodings } from './tick-frames.ts';
import type { TemplatedApp } from './uws.ts';

export type SyncReason = 'cold' | 'gap' | 'epoch' | 'relink' | 'tail';

/** Counters of the link's delivery work (exported as metrics by the operations issue). */
export interface LinkStats {
  gapsDetected: number;
  ticksRecovered: number;
  gapMessages: number;
  ticksLost: number;
  duplicates: number;
  heldOverflow: number;
  /** Ticks published to this worker's topics, live or recovered. */
  ticksForwarded: number;
  /** Messages those ticks became, per mode (ltp, quote, full): subscribers of the topic at publish time. */
  deliveries: [number, number, number];
  /**
   * Bytes of the tick frames published to the topics, all three modes summed: no socket's send
   * buffer can have grown by more than this since it was last sampled (SEND_BUDGET_BYTES, ingest-link.ts).
   */
  bytesPublished: number;
}

/** Every how many forwarded ticks one feed-to-publish latency sample is taken (a power of two, minus one). */
const LATENCY_SAMPLE_MASK = 63;

export interface TokenStreamDeps {
  app: TemplatedApp;
  log: Logger;
  stats: LinkStats;
  /** One tick in 64 as published (its ltp encoding, which carries the feed `ts`): for the latency histogram. */
  onLatencySample?: (ltpJson: Buffer | string) => void;
  /** The newest known tick and whether the token is paused (Redis). Rejects when Redis is down. */
  readNewest(token: number): Promise<{ tick: Tick | undefined; paused: boolean }>;
  readHistory(token: number, afterSeq: number): Promise<HistoryRead>;
  /** Whether this stream is still the worker's stream for its token (it may be dropped mid-sync). */
  isCurrent(stream: TokenStream): boolean;
}

/** Ticks held back while a stream syncs; past this the oldest are dropped and refilled from history. */
const MAX_HELD = 20_000;

export class TokenStream {
  /** Local interest: uWS topic subscribers over every mode and throttle, plus holds. */
  count = 0;
  /** Seq of `latest`; 0 while nothing is known. */
  seq = 0;
  latest: Encodings | undefined;
  /** The state the ingester last reported (paused, stale, live); undefined: live. */
  state: TokenState | undefined;
  /** The three unthrottled uWS topics (MODES order). */
  readonly topics: [string, string, string];
  /** Throttled uWS topics with subscribers, with their mode index: statuses and snapshots reach them too. */
  readonly throttled = new Map<string, number>();
  /** Frames held back while syncing (ticks and statuses, in arrival order). */
  private held: Buffer[][] | undefined;
  private known = false;
  private waiters: (() => void)[] = [];

  constructor(readonly token: number, topics: [string, string, string], private readonly deps: TokenStreamDeps) {
    this.topics = topics;
    void this.sync('cold');
  }

  /** True while the stream's position is known (not in a cold or epoch sync). */
  get isKnown(): boolean {
    return this.known;
  }

  /** True while ticks are held back for a sync: the position is about to move. */
  get isHolding(): boolean {
    return this.held !== undefined;
  }

  /** Runs `fn` now if the stream's position is known, else once it is. */
  whenKnown(fn: () => void): void {
    if (this.known) fn();
    else this.waiters.push(fn);
  }

  /** A tick `[topic, meta, ltp, quote, full]` of the current epoch. Hot path. */
  onTick(frames: Buffer[]): void {
    if (this.held) return this.hold(frames);
    const seq = readTickMetaSeq(frames[1]!);
    if (seq === this.seq + 1 || this.seq === 0) return this.forward(frames, seq);
    if (seq === this.seq) return this.forward(frames, seq); // the newest value re-sent (resume)
    if (seq < this.seq) {
      this.deps.stats.duplicates++;
      return;
    }
    this.deps.stats.gapsDetected++;
    this.held = [frames];
    void this.sync('gap');
  }

  /** A token status event `[topic, json]` from the ingester. */
  onStatus(frames: Buffer[], state: TokenState | undefined): void {
    if (this.held) return this.hold(frames);
    if (state) this.state = state;
    this.publishAll(frames[1]!);
  }

  /** The ingester link went quiet: the token is stale as far as this worker can tell. */
  linkDown(): void {
    this.publishStatus('stale');
  }

  /** The link is back under the same epoch: the token's state, then catch up and a fresh snapshot. */
  linkUp(): void {
    this.publishState();
    void this.sync('relink');
  }

  /** Redis has ticks after `seq` that never arrived (quiet-tail-check.ts): fetch them, or report a gap. */
  catchUpTail(): void {
    void this.sync('tail');
  }

  /** Tells every subscriber the state the ingester last reported (after a `stale` of our own). */
  publishState(): void {
    this.publishStatus(this.state ?? 'live');
  }

  /** A new epoch: everything known is void. Holds `frames` (the tick that revealed it), if any. */
  restartEpoch(frames?: Buffer[]): void {
    this.generation++; // a sync still running belongs to the old epoch: it stops at its next step
    this.seq = 0;
    this.latest = undefined;
    this.known = false;
    this.held = frames ? [frames] : [];
    void this.sync('epoch');
  }

  private hold(frames: Buffer[]): void {
    const held = this.held!;
    if (held.length >= MAX_HELD) {
      held.shift();
      this.deps.stats.heldOverflow++;
    }
    held.push(frames);
  }

  private forward(frames: Buffer[], seq: number): void {
    this.seq = seq;
    this.latest = [frames[2]!, frames[3]!, frames[4]!];
    const { app } = this.deps;
    app.publish(this.topics[0], frames[2]!);
    app.publish(this.topics[1], frames[3]!);
    app.publish(this.topics[2], frames[4]!);
    this.deps.stats.bytesPublished += frames[2]!.length + frames[3]!.length + frames[4]!.length;
    this.counted(frames[2]!);
  }

  /** Counts a published tick and its deliveries; every 64th gives a latency sample. */
  private counted(ltpJson: Buffer | string): void {
    const { app, stats } = this.deps;
    const d = stats.deliveries;
    d[0] += app.numSubscribers(this.topics[0]);
    d[1] += app.numSubscribers(this.topics[1]);
    d[2] += app.numSubscribers(this.topics[2]);
    if ((++stats.ticksForwarded & LATENCY_SAMPLE_MASK) === 0) this.deps.onLatencySample?.(ltpJson);
  }

  private forwardRecovered(tick: Tick): void {
    const enc = encodeAll(tick);
    this.seq = tick.seq;
    this.latest = enc;
    for (let i = 0; i < 3; i++) this.deps.app.publish(this.topics[i]!, enc[i]!);
    this.deps.stats.bytesPublished += Buffer.byteLength(enc[0]) + Buffer.byteLength(enc[1]) + Buffer.byteLength(enc[2]);
    this.counted(enc[0]);
  }

  private publishAll(bytes: Buffer | string): void {
    for (const t of this.topics) this.deps.app.publish(t, bytes);
    for (const t of this.throttled.keys()) this.deps.app.publish(t, bytes);
  }

  private publishStatus(state: TokenState): void {
    this.publishAll(JSON.stringify({ type: 'status', tokens: [this.token], state }));
  }

  /** The newest value to every subscriber, flagged `snapshot` (after a new epoch or a relink). */
  private publishSnapshot(): void {
    if (!this.latest) return;
    for (let i = 0; i < 3; i++) this.deps.app.publish(this.topics[i]!, withSnapshotFlag(this.latest[i]!));
    for (const [t, i] of this.throttled) this.deps.app.publish(t, withSnapshotFlag(this.latest[i]!));
  }

  private async sync(reason: SyncReason): Promise<void> {
    // One sync at a time per epoch: a gap found meanwhile is part of the held run it drains; an
    // epoch restart or relink meanwhile runs as soon as the current one ends.
    if (this.syncing !== undefined) {
      if (this.syncing === this.generation && reason !== 'gap') this.again = reason;
      if (this.syncing === this.generation) return;
    }
    const gen = this.generation;
    this.syncing = gen;
    this.held ??= [];
    const { deps } = this;
    const current = () => deps.isCurrent(this) && this.generation === gen;
    // Holes are filled from history, or reported as a gap (history-fill.ts).
    const fill = (to: number) => fillFromHistory(this, to, current, (tick) => this.forwardRecovered(tick), deps);
    try {
      if (reason !== 'gap') {
        const newest = await deps.readNewest(this.token).catch((err: unknown) => {
          deps.log.warn({ err, token: this.token, reason }, 'newest value unavailable; continuing without it');
          return undefined;
        });
        if (!current()) return;
        if (reason === 'relink' || reason === 'tail') {
          if (newest?.tick && newest.tick.seq > this.seq && this.seq > 0) await fill(newest.tick.seq);
        } else if (newest?.tick) {
          this.seq = newest.tick.seq;
          this.latest = encodeAll(newest.tick);
        }
        if (!current()) return;
        if (reason === 'cold' && newest?.paused && this.state === undefined) this.state = 'paused';
        if (reason === 'epoch' || reason === 'relink') this.publishSnapshot();
        // A cold stream becomes known only after its held ticks (below, synchronous): a joiner let in
        // now would get Redis's newest value as its snapshot and then the held ticks, which may
        // start several seqs later (Redis lags the topic) — a silent hole at the join.
        if (reason !== 'cold') this.markKnown();
      }
      // Forward what was held, in order, filling any hole from history first. Nobody is on the
      // topics of a cold stream yet, so its first held tick needs no fill: it is the start.
      while (this.held.length > 0) {
        if (!current()) return;
        const frames = this.held[0]!;
        if (frames.length === 2) {
          this.held.shift();
          this.onStatusNow(frames);
          continue;
        }
        const seq = readTickMetaSeq(frames[1]!);
        if (this.seq !== 0 && seq > this.seq + 1 && reason !== 'cold') {
          await fill(seq - 1);
          continue;
        }
        this.held.shift();
        // Held ticks at or below the position are already out (the newest value read from Redis,
        // or recovered from history): forwarding the same seq again would repeat it.
        if (this.seq !== 0 && seq <= this.seq) deps.stats.duplicates++;
        else this.forward(frames, seq);
      }
    } finally {
      if (this.generation === gen) {
        this.held = undefined;
        this.syncing = undefined;
        this.markKnown();
        const again = this.again;
        this.again = undefined;
        if (again) void this.sync(again);
      } else if (this.syncing === gen) {
        // Superseded by an epoch restart: its own sync starts now.
        this.syncing = undefined;
        void this.sync('epoch');
      }
    }
  }

  /** The generation of the sync running now, if any (an epoch restart starts a new generation). */
  private syncing: number | undefined;
  private generation = 0;
  private again: SyncReason | undefined;

  private markKnown(): void {
    if (this.known) return;
    this.known = true;
    for (const w of this.waiters.splice(0)) w();
  }

  private onStatusNow(frames: Buffer[]): void {
    const state = readStateOf(frames[1]!);
    if (state) this.state = state;
    this.publishAll(frames[1]!);
  }
}
