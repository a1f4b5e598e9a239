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
 * went away is skipped when its turn comes (`run` is not called).
 */
export class UpgradeQueue {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private head = 0;

  constructor(readonly limit: number) {}

  /** Upgrades running or waiting. */
  get size(): number {
    return this.running + this.waiting.length - this.head;
  }

  /** Runs `work` once a place is free; `stillWanted` is asked at that moment. */
  enqueue(work: () => Promise<void>, stillWanted: () => boolean): void {
    const start = () => {
      if (!stillWanted()) return this.next();
      this.running++;
      work().finally(() => {
        this.running--;
        this.next();
      });
    };
    if (this.running < this.limit) start();
    else this.waiting.push(start);
  }

  private next(): void {
    if (this.head >= this.waiting.length) return;
    const start = this.waiting[this.head]!;
    this.waiting[this.head++] = noop;
    // Compact now and then: the array is a FIFO with a moving head.
    if (this.head > 1024 && this.head * 2 > this.waiting.length) {
      this.waiting.splice(0, this.head);
      this.head = 0;
    }
    start();
  }
}

function noop(): void {}
