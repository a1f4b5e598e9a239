/**
 * Cross-worker actions over Redis pub/sub (§7): logout and refresh-token reuse close a session's
 * sockets everywhere; REST subscriptions reach a session's sockets everywhere.
 *
 * Every gateway instance subscribes, on a dedicated connection (a subscribed ioredis connection
 * can run nothing else), to the shared channel `tg:bus` and to its own reply channel
 * `tg:bus:reply:<instance>`. Publishing goes through the worker's normal client.
 *
 * Counting the sockets a REST subscription reached: PUBLISH returns how many subscribers received
 * the message, i.e. how many gateway instances are listening right now. Each of them answers on
 * the requester's reply channel with the number of that session's sockets it handed the command
 * to (often 0), and the requester sums the answers once all have arrived (bounded by
 * BUS_REPLY_TIMEOUT_MS, for an instance that dies in between). No registry has to be consulted
 * and a worker whose subscriber is down is not counted, so N is the number actually reached.
 *
 * Delivery is at most once. A worker that misses a `session.revoked` while its subscriber is down
 * closes those sockets at its next session check (session-sockets.ts), run at once when the
 * subscriber is back.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { z } from 'zod';
import { MAX_TOKEN, MIN_TOKEN, MODES } from '../protocol/tick.ts';
import { connectRedis } from '../store/redis.ts';
import { Keys } from '../store/keys.ts';
import type { SessionCommand } from './socket-model.ts';

/** How long a REST subscription waits for the other instances' counts. */
export const BUS_REPLY_TIMEOUT_MS = 1_000;

const sid = z.string().min(1).max(64);
const tokens = z.array(z.number().int().min(MIN_TOKEN).max(MAX_TOKEN)).max(100_000);
const replyTo = z.string().regex(/^tg:bus:reply:[0-9a-f-]{36}$/);
const rid = z.string().uuid();

// Messages are parsed into fresh objects by zod (unknown keys dropped); nothing read from the bus
// is merged into an existing object. A malformed message is logged and skipped.
const busMessage = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('session.revoked'), sid }),
  z.object({ kind: z.literal('session.subscribe'), sid, tokens, mode: z.enum(MODES).optional(), rid, replyTo }),
  z.object({ kind: z.literal('session.unsubscribe'), sid, tokens, rid, replyTo }),
]);
const busReply = z.object({ kind: z.literal('session.reached'), rid, count: z.number().int().min(0) });

export type BusMessage = z.infer<typeof busMessage>;
type SessionRequest = Extract<BusMessage, { rid: string }>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

interface Pending { expected: number; received: number; sum: number; done: () => void }

/** What this instance does with a session command from the bus; each returns the sockets reached. */
export interface BusHandlers {
  revokeSession(sid: string): number;
  sessionCommand(sid: string, cmd: SessionCommand): number;
  /** Called when the subscription is back after an outage: messages may have been missed. */
  resubscribed(): void;
}

export class Bus {
  readonly instanceId = randomUUID();
  private readonly replyChannel = Keys.busReply(this.instanceId);
  private readonly sub: Redis;
  private readonly pending = new Map<string, Pending>();
  private subscribed = false;
  private everSubscribed = false;
  private closed = false;

  constructor(
    url: string,
    private readonly redis: Redis,
    private readonly log: Logger,
    private readonly handlers: BusHandlers,
  ) {
    // Subscribing is done here on every `ready`, not by ioredis's autoResubscribe, so `ready`
    // below means "subscribed" rather than "connected".
    this.sub = connectRedis(url, log, 'gateway-bus', { autoResubscribe: false });
    this.sub.on('ready', () => void this.subscribe());
    this.sub.on('close', () => {
      this.subscribed = false;
    });
    this.sub.on('message', (channel: string, text: string) => this.onMessage(channel, text));
  }

  /** True while both channels are subscribed: cross-worker actions reach this instance. */
  get ready(): boolean {
    return this.subscribed;
  }

  private async subscribe(): Promise<void> {
    try {
      await this.sub.subscribe(Keys.bus, this.replyChannel);
    } catch (err) {
      // The connection dropped again; the next `ready` retries.
      this.log.warn({ err }, 'bus subscription failed; retrying on reconnect');
      return;
    }
    this.subscribed = true;
    if (this.everSubscribed) this.handlers.resubscribed();
    this.everSubscribed = true;
  }

  /** Fire and forget to every instance (this one included). Throws if Redis is unavailable. */
  async publish(msg: Extract<BusMessage, { kind: 'session.revoked' }>): Promise<number> {
    return this.redis.publish(Keys.bus, JSON.stringify(msg));
  }

  /**
   * Sends a session command to every instance and resolves with the number of sockets reached.
   * Throws if Redis is unavailable; callers check `ready` first (without the subscription the
   * answers could not be heard).
   */
  async request(msg: DistributiveOmit<SessionRequest, 'rid' | 'replyTo'>): Promise<number> {
    const id = randomUUID();
    let timer: NodeJS.Timeout | undefined;
    const p: Pending = { expected: Number.POSITIVE_INFINITY, received: 0, sum: 0, done: () => {} };
    const finished = new Promise<void>((resolve) => {
      p.done = resolve;
      timer = setTimeout(resolve, BUS_REPLY_TIMEOUT_MS);
    });
    this.pending.set(id, p);
    try {
      p.expected = await this.redis.publish(Keys.bus, JSON.stringify({ ...msg, rid: id, replyTo: this.replyChannel }));
      // Answers may have arrived before PUBLISH itself answered.
      if (p.received >= p.expected) p.done();
      await finished;
      return p.sum;
    } finally {
      clearTimeout(timer);
      this.pending.delete(id);
    }
  }

  private onMessage(channel: string, text: string): void {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      this.log.warn({ channel }, 'ignoring a bus message that is not JSON');
      return;
    }
    if (channel === this.replyChannel) {
      const r = busReply.safeParse(json);
      if (!r.success) return void this.log.warn({ channel }, 'ignoring a malformed bus reply');
      const p = this.pending.get(r.data.rid);
      if (!p) return; // timed out already
      p.received++;
      p.sum += r.data.count;
      if (p.received >= p.expected) p.done();
      return;
    }
    const m = busMessage.safeParse(json);
    if (!m.success) return void this.log.warn({ channel }, 'ignoring a malformed bus message');
    const msg = m.data;
    switch (msg.kind) {
      case 'session.revoked': {
        const n = this.handlers.revokeSession(msg.sid);
        if (n > 0) this.log.info({ sid: msg.sid, sockets: n }, 'session revoked: sockets closed');
        return;
      }
      case 'session.subscribe':
      case 'session.unsubscribe': {
        const count = msg.kind === 'session.subscribe'
          ? this.handlers.sessionCommand(msg.sid, { op: 'subscribe', tokens: msg.tokens, ...(msg.mode ? { mode: msg.mode } : {}) })
          : this.handlers.sessionCommand(msg.sid, { op: 'unsubscribe', tokens: msg.tokens });
        this.redis.publish(msg.replyTo, JSON.stringify({ kind: 'session.reached', rid: msg.rid, count })).catch((err: Error) => {
          this.log.warn({ err }, 'could not answer a bus request');
        });
        return;
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.sub.quit().catch((err: Error) => {
      this.log.debug({ err }, 'bus connection already gone');
      this.sub.disconnect();
    });
  }
}
