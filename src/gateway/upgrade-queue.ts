/**
 * At most `limit` upgrades do their auth work (Redis round trips, JWT check) at once; the rest
 * wait their turn, first come first served, with the HTTP request held open.
 *
 * Why: in a connect storm every upgrade started at once put thousands of Redis commands in flight
 * while the worker was too busy starting the others to read the replies. ioredis's command
 * timeout (1 s) then fired on replies that had long arrived, and a share of a 10,000-socket storm
 * was refused 503 `unavailable` with Redis healthy. Queued, each reply is read as it arrives, the
 * worker's live sockets keep being served between upgrades, and the storm's garbage (promise
 * chains, half-verified claims) stays a few hundred upgrades deep. A queued request whose client
 * went away is skipped when its turn comes (its work never starts).
 */
export class UpgradeQueue {
  private running = 0;
  /**
   * FIFO read from `head`, compacted once the read part is most of it. Not `shift()`: past about
   * 16,000 entries V8 moves the whole array on each one (50,000 waiting: 93 ms of shifting).
   */
  private waiting: { work: () => Promise<void>; stillWanted: () => boolean }[] = [];
  private head = 0;

  constructor(readonly limit: number) {}

  /** Upgrades running or waiting. */
  get size(): number {
    return this.running + this.waiting.length - this.head;
  }

  /** Runs `work` once a place is free; `stillWanted` is asked at that moment. */
  enqueue(work: () => Promise<void>, stillWanted: () => boolean): void {
    this.waiting.push({ work, stillWanted });
    this.next();
  }

  /** Starts waiting work while places are free, skipping what is no longer wanted (a loop, not recursion: thousands may have gone away). */
  private next(): void {
    while (this.running < this.limit && this.head < this.waiting.length) {
      const job = this.waiting[this.head++]!;
      if (this.head * 2 >= this.waiting.length) {
        this.waiting = this.waiting.slice(this.head);
        this.head = 0;
      }
      if (!job.stillWanted()) continue;
      this.running++;
      job.work().finally(() => {
        this.running--;
        this.next();
      });
    }
  }
}
