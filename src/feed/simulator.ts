/**
 * The development market-data feed: a geometric Brownian motion per token, published on a ZeroMQ
 * PUB in the contract's two-frame wire format `[token as ASCII, JSON]` (§3) — the same format a
 * real exchange adapter would use.
 */
import * as zmq from 'zeromq';
import type { Logger } from 'pino';
import type { Depth } from '../protocol/tick.ts';

/** A few real Kite instrument tokens first, so the simulator's ids look like the real thing. */
const WELL_KNOWN: ReadonlyArray<[number, number]> = [
  [256265, 24_300], // NIFTY 50
  [260105, 52_100], // NIFTY BANK
  [738561, 2_950], // RELIANCE
  [408065, 1_880], // INFY
  [2953217, 4_100], // TCS
  [341249, 1_700], // HDFCBANK
  [1270529, 1_250], // ICICIBANK
  [779521, 820], // SBIN
];

export interface Instrument {
  token: number;
  ltp: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  oi: number;
  tickSize: number;
}

const round = (v: number, step: number) => Math.round(v / step) * step;
const fix = (v: number) => Math.round(v * 100) / 100;

export function makeInstruments(count: number, rand: () => number = Math.random): Instrument[] {
  const out: Instrument[] = [];
  for (let i = 0; i < count; i++) {
    const known = WELL_KNOWN[i];
    // Beyond the well-known ones: plausible NSE-style ids (multiples of 256 plus a segment byte).
    const token = known ? known[0] : (3_000 + i * 37) * 256 + 1;
    const close = known ? known[1] : fix(50 + rand() * 4_950);
    const tickSize = 0.05;
    const open = fix(round(close * (1 + (rand() - 0.5) * 0.01), tickSize));
    out.push({ token, ltp: open, open, high: open, low: open, close, volume: 0, oi: Math.floor(rand() * 5e6), tickSize });
  }
  return out;
}

/** Box–Muller standard normal. */
function gaussian(rand: () => number): number {
  const u = 1 - rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/**
 * One GBM step: about 20% annualised volatility spread over a trading day of ticks, so prices
 * wander visibly but stay plausible.
 */
export function step(inst: Instrument, rand: () => number = Math.random): object {
  const sigma = 0.0004;
  inst.ltp = fix(Math.max(inst.tickSize, round(inst.ltp * Math.exp(sigma * gaussian(rand)), inst.tickSize)));
  inst.high = Math.max(inst.high, inst.ltp);
  inst.low = Math.min(inst.low, inst.ltp);
  inst.volume += 1 + Math.floor(rand() * 500);
  inst.oi = Math.max(0, inst.oi + Math.floor((rand() - 0.5) * 1_000));
  const spread = inst.tickSize * (1 + Math.floor(rand() * 4));
  const bid = fix(inst.ltp - spread / 2);
  const ask = fix(inst.ltp + spread / 2);
  const depth: Depth = { buy: [], sell: [] };
  for (let l = 0; l < 5; l++) {
    depth.buy.push({ price: fix(bid - l * inst.tickSize), qty: 1 + Math.floor(rand() * 2_000), orders: 1 + Math.floor(rand() * 30) });
    depth.sell.push({ price: fix(ask + l * inst.tickSize), qty: 1 + Math.floor(rand() * 2_000), orders: 1 + Math.floor(rand() * 30) });
  }
  return {
    token: inst.token, ltp: inst.ltp, ts: Date.now(), volume: inst.volume, bid, ask,
    open: inst.open, high: inst.high, low: inst.low, close: inst.close, oi: inst.oi, depth,
  };
}

export interface SimulatorOptions { bind: string; tokens: number; ratePerSec: number }

export class Simulator {
  readonly instruments: Instrument[];
  published = 0;
  private readonly pub = new zmq.Publisher();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(private readonly opts: SimulatorOptions, private readonly log: Logger) {
    this.instruments = makeInstruments(opts.tokens);
  }

  static async start(opts: SimulatorOptions, log: Logger): Promise<Simulator> {
    const sim = new Simulator(opts, log);
    sim.pub.sendHighWaterMark = 100_000;
    // A PUB never blocks (it drops at the HWM); a zero send timeout makes every send complete
    // synchronously, so sends never overlap ("socket is busy writing").
    sim.pub.sendTimeout = 0;
    await sim.pub.bind(opts.bind);
    sim.run();
    log.info({ bind: opts.bind, tokens: opts.tokens, rate: opts.ratePerSec }, 'feed simulator started');
    return sim;
  }

  /** Emits `rate × elapsed` ticks every 10 ms, carrying the fraction over, so the rate holds exactly. */
  private run(): void {
    let last = performance.now();
    let owed = 0;
    this.timer = setInterval(() => {
      const now = performance.now();
      owed += ((now - last) / 1000) * this.opts.ratePerSec;
      last = now;
      let n = Math.floor(owed);
      owed -= n;
      while (n-- > 0 && !this.closed) {
        const inst = this.instruments[Math.floor(Math.random() * this.instruments.length)]!;
        const tick = step(inst);
        this.pub.send([String(inst.token), JSON.stringify(tick)]).catch((err: unknown) => {
          if (!this.closed) this.log.error({ err }, 'feed publish failed');
        });
        this.published++;
      }
    }, 10);
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.pub.close();
  }
}
