/**
 * What the ingest XPUB tells about its subscribers. It hands up one message per subscription
 * change that matters: the first subscriber of a topic (`0x01` + topic) and the last one leaving
 * (`0x00` + topic), including gateways that disconnect. That is exactly the demand set, and (with
 * one unique topic per worker) the set of connected workers.
 *
 * Each gateway worker subscribes to a topic of its own (`w` + random id, see topics.ts); with
 * unique topics the XPUB reports exactly one subscribe when a worker connects and one unsubscribe
 * when it goes away, even with `allSubs` verbosity. Counting through ZeroMQ rather than Redis
 * heartbeats means a worker is counted exactly while it can receive ticks, with no timeout to tune.
 *
 * `wants(topic, token)` is the send test of the tick path: a tick nobody subscribed to is neither
 * encoded for the wire nor handed to ZeroMQ, which would only drop it. Besides exact token topics
 * it honours prefix subscriptions (a tool subscribed to every token, e.g. with the bare `t` or the
 * empty prefix). A subscriber that joins while a tick is on its way may miss it where ZeroMQ
 * alone would have delivered it: the XPUB applies a subscription before we read its report. That
 * is the case of any fresh subscription (a cold token stream starts from the newest value and the
 * next tick, see token-stream.ts) or of a reconnecting gateway, which has lost ticks anyway and
 * recovers them from history.
 */
import { BROADCAST_TOPIC, tokenOfTopic, TOKEN_TOPIC_BYTES, TOKEN_TOPIC_PREFIX, WORKER_TOPIC_PREFIX } from '../protocol/topics.ts';

export class XpubSubscribers {
  /** Tokens with at least one subscribed gateway. */
  readonly demand = new Set<number>();
  /** Connected gateway workers, by their worker topic. */
  readonly workers = new Set<string>();
  /** Subscribed prefixes shorter than a token topic that token topics can start with. */
  private readonly wildcards = new Map<string, Buffer>();

  /** `onJoin`: a gateway subscribed to the broadcast topic; it needs a heartbeat promptly to report the link up. */
  constructor(private readonly onJoin: () => void) {}

  onMessage([msg]: Buffer[]): void {
    if (!msg || msg.length < 1) return;
    const topic = msg.subarray(1);
    const token = tokenOfTopic(topic);
    const wildcard = token === undefined && topic.length < TOKEN_TOPIC_BYTES && (topic.length === 0 || topic[0] === TOKEN_TOPIC_PREFIX);
    if (msg[0] === 1) {
      if (token !== undefined) this.demand.add(token);
      else if (wildcard) this.wildcards.set(topic.toString('latin1'), Buffer.from(topic));
      else if (topic.equals(BROADCAST_TOPIC)) this.onJoin();
      else if (topic[0] === WORKER_TOPIC_PREFIX) this.workers.add(topic.toString('latin1'));
    } else if (msg[0] === 0) {
      if (token !== undefined) this.demand.delete(token);
      else if (wildcard) this.wildcards.delete(topic.toString('latin1'));
      else if (topic[0] === WORKER_TOPIC_PREFIX) this.workers.delete(topic.toString('latin1'));
    }
  }

  /** Whether some subscriber would receive a message on this token topic. Hot path. */
  wants(topic: Buffer, token: number): boolean {
    if (this.demand.has(token)) return true;
    if (this.wildcards.size === 0) return false;
    for (const prefix of this.wildcards.values()) if (topic.compare(prefix, 0, prefix.length, 0, prefix.length) === 0) return true;
    return false;
  }
}
