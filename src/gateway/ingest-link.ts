/**
 * A gateway worker's link to the ingester: one ZeroMQ SUB connected to INGEST_BIND.
 *
 * It subscribes a token exactly while some local socket wants it, in any mode: uWS reports
 * every topic's subscriber count through its `subscription` handler, and the link turns the first
 * subscriber of a token and the last one leaving into ZeroMQ subscribe / unsubscribe. The ingester
 * therefore sends this worker only the tokens its clients want.
 *
 * The tick path: a 5-frame message `[topic, meta, ltp, quote, full]` is published, bytes untouched,
 * to the token's three uWS topics; the binary meta frame (tick-meta.ts) gives the token's seq and
 * epoch without JSON. No JSON work, no actor, no per-recipient work.
 *
 * Token status events (`[topic, json]`, rare) are published the same way, and the link remembers
 * the last state it forwarded per token so a socket subscribing later can be told it (paused,
 * stale) without asking anyone.
 */
import { randomUUID } from 'node:crypto';
import * as zmq from 'zeromq';
import type { Logger } from 'pino';
import type { TokenState } from '../protocol/server-messages.ts';
import { BROADCAST_TOPIC, parseWsTopic, tokenOfTopic, tokenTopic, workerTopic, wsTopics } from '../protocol/topics.ts';
import { MODES, type Mode } from '../protocol/tick.ts';
import { isTickMeta, readTickMetaSeq, tickMetaEpoch, tickMetaEpochEquals } from '../protocol/tick-meta.ts';
import type { TemplatedApp } from './uws.ts';
import { enableHeartbeats } from '../zmq/heartbeat.ts';
import { receiveLoop } from '../zmq/receive-loop.ts';

/** The link reports "up" while an ingester heartbeat arrived within this window. */
const LINK_FRESH_MS = 3_500;

interface TokenEntry {
  /** Local subscribers over all modes. */
  count: number;
  topics: [string, string, string];
  /** The newest tick's encodings, per mode (MODES order), while subscribed. */
  latest: [Buffer, Buffer, Buffer] | undefined;
  /** The last status forwarded for this token; undefined until one came (live by default). */
  state: TokenState | undefined;
  /** Seq of the newest tick received (from its meta frame); 0 before the first. */
  seq: number;
  /** Epoch (16 UUID bytes) of the newest tick received; undefined before the first. */
  epoch: Buffer | undefined;
}

const TOKEN_STATES: readonly string[] = ['live', 'paused', 'stale'] satisfies TokenState[];

export interface BroadcastMessage { type: string; [k: string]: unknown }

export class IngestLink {
  epoch: string | undefined;
  ticksIn = 0;
  /** Names this worker's own ZeroMQ topic, by which the ingester counts connected workers. */
  readonly linkId = randomUUID();
  private lastHeartbeatAt = 0;
  private readonly sub = new zmq.Subscriber();
  private readonly tokens = new Map<number, TokenEntry>();
  private closed = false;

  constructor(
    private readonly app: TemplatedApp,
    private readonly endpoint: string,
    private readonly log: Logger,
    private readonly onBroadcast: (msg: BroadcastMessage) => void = () => {},
  ) {}

  start(): void {
    this.sub.receiveHighWaterMark = 100_000;
    enableHeartbeats(this.sub);
    this.sub.connect(this.endpoint);
    this.sub.subscribe(BROADCAST_TOPIC);
    this.sub.subscribe(workerTopic(this.linkId));
    receiveLoop(this.sub, (frames) => this.onMessage(frames), { what: 'ingest link', log: this.log, closed: () => this.closed });
  }

  get up(): boolean {
    return Date.now() - this.lastHeartbeatAt < LINK_FRESH_MS;
  }

  /** Tokens this worker currently forwards. */
  get subscribedTokens(): number[] {
    return [...this.tokens.keys()];
  }

  /** The newest tick of a token in one mode, if this worker is subscribed and has seen one. */
  latest(token: number, mode: Mode): Buffer | undefined {
    return this.tokens.get(token)?.latest?.[MODES.indexOf(mode)];
  }

  /**
   * The state the ingester last reported for a token this worker forwards; undefined when the
   * worker does not forward it or has seen no status for it since it started forwarding.
   */
  tokenState(token: number): TokenState | undefined {
    return this.tokens.get(token)?.state;
  }

  /** uWS `subscription` handler: called with the new and old subscriber count of a topic. */
  onTopicCount(topic: string, newCount: number, oldCount: number): void {
    const parsed = parseWsTopic(topic);
    if (!parsed) return;
    const delta = newCount - oldCount;
    let entry = this.tokens.get(parsed.token);
    if (!entry) {
      if (delta <= 0) return;
      entry = { count: 0, topics: wsTopics(parsed.token), latest: undefined, state: undefined, seq: 0, epoch: undefined };
      this.tokens.set(parsed.token, entry);
    }
    const before = entry.count;
    entry.count += delta;
    if (before === 0 && entry.count > 0) this.sub.subscribe(tokenTopic(parsed.token));
    else if (before > 0 && entry.count <= 0) {
      this.tokens.delete(parsed.token);
      if (!this.closed) this.sub.unsubscribe(tokenTopic(parsed.token));
    }
  }

  private onMessage(frames: Buffer[]): void {
    const topic = frames[0]!;
    const token = tokenOfTopic(topic);
    if (token !== undefined) {
      const entry = this.tokens.get(token);
      if (!entry) return; // raced with an unsubscribe
      if (frames.length === 5 && isTickMeta(frames[1]!)) {
        this.ticksIn++;
        const meta = frames[1]!;
        entry.seq = readTickMetaSeq(meta);
        if (entry.epoch === undefined || !tickMetaEpochEquals(meta, entry.epoch)) entry.epoch = tickMetaEpoch(meta);
        // May be a resume snapshot (already flagged `snapshot`): still the newest value.
        entry.latest = [frames[2]!, frames[3]!, frames[4]!];
        this.app.publish(entry.topics[0], frames[2]!);
        this.app.publish(entry.topics[1], frames[3]!);
        this.app.publish(entry.topics[2], frames[4]!);
      } else if (frames.length === 2) {
        // A token-scoped event (status): the same bytes for every mode.
        entry.state = readState(frames[1]!) ?? entry.state;
        for (const t of entry.topics) this.app.publish(t, frames[1]!);
      }
      return;
    }
    if (topic.equals(BROADCAST_TOPIC) && frames.length === 2) {
      let msg: BroadcastMessage;
      try {
        msg = JSON.parse(frames[1]!.toString('utf8')) as BroadcastMessage;
      } catch {
        this.log.warn('unreadable broadcast from the ingester');
        return;
      }
      if (msg.type === 'hb') {
        this.lastHeartbeatAt = Date.now();
        if (typeof msg.epoch === 'string') this.epoch = msg.epoch;
        return;
      }
      this.onBroadcast(msg);
    }
  }

  close(): void {
    this.closed = true;
    this.sub.close();
  }
}

/** The state of a token status event, or undefined for any other event. */
function readState(json: Buffer): TokenState | undefined {
  try {
    const m = JSON.parse(json.toString('utf8')) as { type?: unknown; state?: unknown };
    return m.type === 'status' && typeof m.state === 'string' && TOKEN_STATES.includes(m.state) ? (m.state as TokenState) : undefined;
  } catch {
    // Not ours to judge: the event is forwarded as it is either way.
    return undefined;
  }
}
