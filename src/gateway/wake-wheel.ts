/**
 * The connection actors' one clock: a min-heap of wake-up times and a single timer for the
 * earliest. A connection actor keeps its deadlines (next ping, silence, reauth, expiry, slow close)
 * in its context and asks to be woken at the earliest (`effect.wake`); when that time comes it
 * gets `clock.due` and its guards compare the deadlines with `now()`. So an idle socket costs one
 * small heap entry instead of xstate's scheduled events and a Node timer per `after` (and its actor
 * can share one xstate system, whose scheduler would otherwise scan every actor's timers each time
 * one actor stops).
 *
 * Exact: a wake-up fires at its time, not on a coarse tick. A new request replaces the target's
 * previous one (the old heap entry is left behind, marked dead, and dropped when it surfaces). A
 * spurious wake-up is harmless: the actor finds nothing due and asks again.
 *
 * The clock is injected (xstate's `SimulatedClock` in tests), like the actors' own.
 */
/** Rounds of wake-ups in one firing (see `fire`). */
const MAX_ROUNDS = 4;

export interface WheelClock {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/** What the wheel wakes: it keeps its pending entry on the target itself (no map per target). */
export interface Sleeper { wake?: WakeEntry }

export interface WakeEntry { at: number; target: Sleeper | undefined }

export class WakeWheel<T extends Sleeper> {
  private readonly heap: WakeEntry[] = [];
  private timer: unknown;
  private timerAt = Number.POSITIVE_INFINITY;
  /** True while `fire` runs: it arms the timer once at its end. */
  private firing = false;

  constructor(
    private readonly clock: WheelClock,
    private readonly now: () => number,
    private readonly onDue: (target: T) => void,
  ) {}

  /** Wakes `target` at `at` (ms, on `now`'s clock) instead of whenever it was to be woken. */
  schedule(target: T, at: number): void {
    if (target.wake?.at === at) return;
    this.cancel(target);
    if (!Number.isFinite(at)) return;
    const entry: WakeEntry = { at, target };
    target.wake = entry;
    this.push(entry);
    if (!this.firing && at < this.timerAt) this.arm();
  }

  cancel(target: T): void {
    if (target.wake) target.wake.target = undefined;
    target.wake = undefined;
  }

  /** Entries in the heap, dead ones included (for tests and metrics). */
  get size(): number {
    return this.heap.length;
  }

  close(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    this.heap.length = 0;
  }

  private arm(): void {
    while (this.heap.length > 0 && this.heap[0]!.target === undefined) this.pop();
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const top = this.heap[0];
    if (!top) return;
    this.timerAt = top.at;
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(0, top.at - this.now()));
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    this.firing = true;
    const now = this.now();
    try {
      // A woken target may ask again for a time already past (a token whose reauth came so late
      // that its expiry is due too): it is woken again in the next round. Rounds are bounded, so a
      // target that keeps asking for the past cannot spin here; the rest waits for the timer.
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const due: T[] = [];
        while (this.heap.length > 0 && this.heap[0]!.at <= now) {
          const t = this.pop().target as T | undefined;
          if (!t) continue;
          t.wake = undefined;
          due.push(t);
        }
        if (due.length === 0) break;
        for (const t of due) this.onDue(t);
      }
    } finally {
      this.firing = false;
      this.arm();
    }
  }

  private push(e: WakeEntry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= e.at) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  private pop(): WakeEntry {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && h[r]!.at < h[l]!.at ? r : l;
        if (h[c]!.at >= last.at) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
