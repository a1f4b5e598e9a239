/**
 * The newest value per token, as the dashboard and `tickgate client watch` show it: the last tick
 * merged over the previous ones (an `ltp`-mode tick keeps the last known bid/ask), the direction
 * of the last move, the feed state, ticks per second and the end-to-end lag of the last tick.
 */
import type { Tick, TokenState } from './types.ts';

export interface TokenRow {
  token: number;
  /** Every field ever received, newest wins. */
  tick: Partial<Tick> & { token: number };
  /** +1 up, -1 down, 0 unchanged or first value. */
  direction: -1 | 0 | 1;
  state: TokenState | 'unknown';
  /** Receive time of the newest tick (ms). */
  receivedAt: number;
  /** `receivedAt - tick.ts` of the newest live tick (ms); snapshots are old by nature and do not count. */
  lagMs: number | undefined;
  /** Ticks received in the last full second window. */
  ticksPerSec: number;
  /** Recent ltp values, oldest first, for a sparkline. */
  history: number[];
  ticks: number;
}

interface RateWindow { second: number; count: number; previous: number }

export class TokenView {
  private rows = new Map<number, TokenRow>();
  private rates = new Map<number, RateWindow>();

  constructor(private readonly historyLength = 60, private readonly now: () => number = Date.now) {}

  /** Adds a tick; returns its row. */
  apply(t: Tick): TokenRow {
    const now = this.now();
    let row = this.rows.get(t.token);
    if (!row) {
      row = { token: t.token, tick: { token: t.token }, direction: 0, state: 'unknown', receivedAt: now, lagMs: undefined, ticksPerSec: 0, history: [], ticks: 0 };
      this.rows.set(t.token, row);
    }
    const prev = row.tick.ltp;
    row.direction = prev === undefined || t.ltp === prev ? 0 : t.ltp > prev ? 1 : -1;
    for (const [k, v] of Object.entries(t)) if (v !== undefined && k !== 'type') (row.tick as Record<string, unknown>)[k] = v;
    row.receivedAt = now;
    if (!t.snapshot) row.lagMs = Math.max(0, now - t.ts);
    if (row.state === 'unknown' || row.state === 'stale') row.state = 'live';
    row.history.push(t.ltp);
    if (row.history.length > this.historyLength) row.history.shift();
    row.ticks++;
    this.count(t.token, now);
    row.ticksPerSec = this.rate(t.token, now);
    return row;
  }

  setState(tokens: number[], state: TokenState): void {
    for (const token of tokens) {
      const row = this.rows.get(token);
      if (row) row.state = state;
      else this.rows.set(token, { token, tick: { token }, direction: 0, state, receivedAt: 0, lagMs: undefined, ticksPerSec: 0, history: [], ticks: 0 });
    }
  }

  /** Declares a token (subscribed, no value yet) so a table can show it before its first tick. */
  track(token: number): void {
    if (!this.rows.has(token)) {
      this.rows.set(token, { token, tick: { token }, direction: 0, state: 'unknown', receivedAt: 0, lagMs: undefined, ticksPerSec: 0, history: [], ticks: 0 });
    }
  }

  remove(token: number): void {
    this.rows.delete(token);
    this.rates.delete(token);
  }

  get(token: number): TokenRow | undefined {
    const row = this.rows.get(token);
    if (row) row.ticksPerSec = this.rate(token, this.now());
    return row;
  }

  /** Every row, in token order, with rates brought up to date. */
  all(): TokenRow[] {
    const now = this.now();
    return [...this.rows.values()].sort((a, b) => a.token - b.token).map((r) => ((r.ticksPerSec = this.rate(r.token, now)), r));
  }

  private count(token: number, now: number) {
    const second = Math.floor(now / 1000);
    let w = this.rates.get(token);
    if (!w) this.rates.set(token, (w = { second, count: 0, previous: 0 }));
    if (w.second !== second) {
      w.previous = w.second === second - 1 ? w.count : 0;
      w.second = second;
      w.count = 0;
    }
    w.count++;
  }

  /** Ticks in the last complete second. */
  private rate(token: number, now: number): number {
    const w = this.rates.get(token);
    if (!w) return 0;
    const second = Math.floor(now / 1000);
    if (w.second === second) return w.previous;
    if (w.second === second - 1) return w.count;
    return 0;
  }
}
