/**
 * Restart delays for a supervised child: the first restart waits `initialMs`, each consecutive
 * crash doubles it up to `maxMs`, and a child that stayed up for `healthyMs` starts over at
 * `initialMs`. A crash loop is thereby slowed to one start per `maxMs`, never spun.
 */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  healthyMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = Object.freeze({ initialMs: 100, maxMs: 10_000, healthyMs: 60_000 });

export class Backoff {
  private failures = 0;

  constructor(private readonly opts: BackoffOptions = DEFAULT_BACKOFF) {}

  /** The delay before the next start, given how long the child that just died had been up. */
  next(upForMs: number): number {
    if (upForMs >= this.opts.healthyMs) this.failures = 0;
    const delay = Math.min(this.opts.maxMs, this.opts.initialMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    return delay;
  }
}
