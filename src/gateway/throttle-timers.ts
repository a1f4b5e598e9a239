/**
 * Throttled delivery (§6 `throttle_ms`): one timer per interval in use on this worker, and per
 * throttled uWS topic (token, mode, interval) the seq it last published. On each beat a topic whose
 * token moved on gets the newest value, once, for all its sockets. So the cost follows the
 * (token, mode, interval) combinations in use, not the sockets; the tick path does nothing for it;
 * and the newest value is never withheld longer than one interval.
 */
import type { TokenStream } from './token-stream.ts';
import type { TemplatedApp } from './uws.ts';

interface ThrottledTopic { stream: TokenStream; modeIndex: number; sentSeq: number }

interface Beat { timer: NodeJS.Timeout; topics: Map<string, ThrottledTopic> }

export class ThrottleTimers {
  private readonly beats = new Map<number, Beat>();

  constructor(private readonly app: TemplatedApp) {}

  /** A throttled topic got its first subscriber (who was just sent the newest value) or lost its last. */
  onTopicCount(topic: string, stream: TokenStream, modeIndex: number, intervalMs: number, subscribers: number): void {
    let beat = this.beats.get(intervalMs);
    if (subscribers > 0) {
      if (!beat) {
        const topics = new Map<string, ThrottledTopic>();
        beat = { topics, timer: setInterval(() => this.publish(topics), intervalMs) };
        this.beats.set(intervalMs, beat);
      }
      if (!beat.topics.has(topic)) beat.topics.set(topic, { stream, modeIndex, sentSeq: stream.seq });
      stream.throttled.set(topic, modeIndex);
      return;
    }
    stream.throttled.delete(topic);
    if (!beat) return;
    beat.topics.delete(topic);
    if (beat.topics.size === 0) {
      clearInterval(beat.timer);
      this.beats.delete(intervalMs);
    }
  }

  private publish(topics: Map<string, ThrottledTopic>): void {
    for (const [topic, t] of topics) {
      const { stream } = t;
      if (stream.seq === t.sentSeq || !stream.latest) continue;
      t.sentSeq = stream.seq;
      this.app.publish(topic, stream.latest[t.modeIndex]!);
    }
  }

  close(): void {
    for (const b of this.beats.values()) clearInterval(b.timer);
    this.beats.clear();
  }
}
