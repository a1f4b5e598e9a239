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
 */
import { BROADCAST_TOPIC, tokenOfTopic, WORKER_TOPIC_PREFIX } from '../protocol/topics.ts';

export class XpubSubscribers {
  /** Tokens with at least one subscribed gateway. */
  readonly demand = new Set<number>();
  /** Connected gateway workers, by their worker topic. */
  readonly workers = new Set<string>();

  /** `onJoin`: a gateway subscribed to the broadcast topic; it needs a heartbeat promptly to report the link up. */
  constructor(private readonly onJoin: () => void) {}

  onMessage([msg]: Buffer[]): void {
    if (!msg || msg.length < 1) return;
    const topic = msg.subarray(1);
    const token = tokenOfTopic(topic);
    if (msg[0] === 1) {
      if (token !== undefined) this.demand.add(token);
      else if (topic.equals(BROADCAST_TOPIC)) this.onJoin();
      else if (topic[0] === WORKER_TOPIC_PREFIX) this.workers.add(topic.toString('latin1'));
    } else if (msg[0] === 0) {
      if (token !== undefined) this.demand.delete(token);
      else if (topic[0] === WORKER_TOPIC_PREFIX) this.workers.delete(topic.toString('latin1'));
    }
  }
}
