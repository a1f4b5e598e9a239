/**
 * The Redis tail check. A token stream sees a gap only when the next tick arrives, so ticks dropped
 * upstream at the very end of a burst, before the token went quiet, would stay silently missing
 * until it ticks again. So once per quiet period (a stream's seq stood still for QUIET_CHECKS link
 * checks in a row) the quiet streams are compared with Redis's newest in one pipelined read, and a
 * stream behind it catches up (from history, or with a `gap`: history-fill.ts). Runs from the
 * link's liveness timer; nothing on the tick path.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { readNewest } from '../store/history.ts';
import type { TokenStream } from './token-stream.ts';

/** A token whose seq stood still this many checks (1 s at the link's 250 ms) is compared once with Redis's newest. */
const QUIET_CHECKS = 4;

export class QuietTailCheck {
  /** Per stream: the seq seen at the last check, and for how many checks in a row it stood still. */
  private readonly swept = new WeakMap<TokenStream, { seq: number; sweeps: number }>();
  private running: Promise<void> | undefined;

  /** `isCurrent`: whether a stream is still the link's stream for its token (it may be dropped during the read). */
  constructor(private readonly redis: Redis, private readonly log: Logger, private readonly isCurrent: (s: TokenStream) => boolean) {}

  /** One link check over every stream; skipped while the previous read is still out. */
  run(streams: Iterable<TokenStream>): void {
    if (this.running) return;
    const quiet: TokenStream[] = [];
    for (const s of streams) if (this.quiet(s)) quiet.push(s);
    if (quiet.length === 0) return;
    this.running = readNewest(this.redis, quiet.map((s) => s.token)).then((newest) => {
      for (const s of quiet) {
        const tick = newest.get(s.token);
        if (tick && tick.seq > s.seq && this.isCurrent(s)) s.catchUpTail();
      }
    }, (err: unknown) => this.log.debug({ err }, 'quiet-token check skipped: redis unavailable')).finally(() => {
      this.running = undefined;
    });
  }

  /** True once per quiet period: a known, idle stream whose seq has not moved for QUIET_CHECKS checks. */
  private quiet(s: TokenStream): boolean {
    if (s.isHolding || !s.isKnown || s.seq === 0) return false;
    let q = this.swept.get(s);
    if (q === undefined) this.swept.set(s, (q = { seq: 0, sweeps: 0 }));
    if (s.seq !== q.seq) {
      q.seq = s.seq;
      q.sweeps = 0;
      return false;
    }
    return ++q.sweeps === QUIET_CHECKS;
  }
}
