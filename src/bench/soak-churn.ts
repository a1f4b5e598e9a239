/**
 * The soak's churn: sockets that keep arriving and leaving, as real clients do — connect,
 * subscribe to a few random tokens, unsubscribe some, close — at a steady rate, a bounded number
 * at a time. Anything the server leaks per connection or per subscription shows up as drift.
 */
import WebSocket from 'ws';

const CYCLE_TIMEOUT_MS = 10_000;
const MAX_IN_FLIGHT = 50;

export interface ChurnCounts {
  started: number;
  completed: number;
  failed: number;
  /** The first few failure reasons, for the report. */
  errors: string[];
}

export class Churn {
  readonly counts: ChurnCounts = { started: 0, completed: 0, failed: 0, errors: [] };
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private stopped = false;
  private readonly open = new Set<WebSocket>();

  constructor(private readonly url: string, private readonly access: string, private readonly tokens: readonly number[], private readonly perSecond: number) {}

  start(): void {
    if (this.perSecond <= 0) return;
    let owed = 0;
    let last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      owed += ((now - last) / 1000) * this.perSecond;
      last = now;
      while (owed >= 1 && this.inFlight < MAX_IN_FLIGHT) {
        owed -= 1;
        this.cycle();
      }
      owed = Math.min(owed, this.perSecond); // never a burst after a stall
    }, 50);
  }

  private pick(n: number): number[] {
    const out = new Set<number>();
    while (out.size < Math.min(n, this.tokens.length)) out.add(this.tokens[Math.floor(Math.random() * this.tokens.length)]!);
    return [...out];
  }

  private cycle(): void {
    this.counts.started++;
    this.inFlight++;
    const ws = new WebSocket(`${this.url}?access_token=${encodeURIComponent(this.access)}`, { perMessageDeflate: false });
    this.open.add(ws);
    const subscribed = this.pick(5);
    let done = false;
    const finish = (err?: string) => {
      if (done) return;
      done = true;
      // Cycles cut short by stop() are neither completed nor failed.
      if (this.stopped) return void clearTimeout(timer);
      clearTimeout(timer);
      this.inFlight--;
      if (err) {
        this.counts.failed++;
        if (this.counts.errors.length < 5) this.counts.errors.push(err);
        ws.terminate();
      } else {
        this.counts.completed++;
        ws.close(1000);
      }
    };
    const timer = setTimeout(() => finish(`no complete cycle within ${CYCLE_TIMEOUT_MS} ms`), CYCLE_TIMEOUT_MS);
    ws.on('error', (e) => finish(e.message));
    ws.once('unexpected-response', (_q, res) => finish(`upgrade refused with HTTP ${res.statusCode}`));
    ws.on('close', (code) => {
      this.open.delete(ws);
      finish(code === 1000 || code === 1005 ? undefined : `closed ${code}`);
    });
    ws.once('open', () => ws.send(JSON.stringify({ op: 'subscribe', tokens: subscribed, mode: 'quote', id: 1 })));
    ws.on('message', (data: Buffer) => {
      if (data[9] === 0x74 /* t: a tick */) return;
      const msg = JSON.parse(data.toString('utf8')) as { type?: string };
      if (msg.type === 'subscribed') ws.send(JSON.stringify({ op: 'unsubscribe', tokens: subscribed.slice(0, 2), id: 2 }));
      else if (msg.type === 'unsubscribed') finish();
      else if (msg.type === 'error') finish(`error ${JSON.stringify(msg)}`);
    });
  }

  /** Stops starting cycles and drops the sockets of those in flight. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    for (const ws of this.open) ws.terminate();
    this.open.clear();
  }
}
