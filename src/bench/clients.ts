/**
 * Many WebSocket clients (the `ws` package) in one process: the work a bench client process does.
 * Built to stay out of the way of the server being measured: a tick costs a byte check, a digit
 * scan and one histogram increment (see tick-bytes.ts); only the rare other messages (welcome,
 * subscribed, status, …) are parsed. The same code talks to tickgate and to the bare baseline:
 * both answer a `subscribe` with `subscribed` and write ticks in the same shape.
 */
import type { Mode } from '../protocol/tick.ts';
import WebSocket from 'ws';
import { LatencyHistogram, type HistogramSnapshot } from './latency-histogram.ts';
import { isSnapshot, isTick, readUint, TOKEN_AT, tsDigitsAt } from './tick-bytes.ts';

/** Attempts per connection when the server drops a fresh socket before its subscribe ack. */
const CONNECT_ATTEMPTS = 3;

/**
 * The server closed a freshly opened socket before its subscribe ack. uWebSockets.js can do this
 * when an asynchronous upgrade is corked and the open handler sends (uNetworking/uWebSockets
 * #1928): a client reconnects; the bench retries a bounded number of times and reports how often.
 */
class EarlyCloseError extends Error {}

export interface PoolConnection {
  /** The access token in the upgrade URL ('' for the bare baseline, which checks none). */
  access: string;
  tokens: number[];
}

export interface ConnectOptions {
  /** `ws://127.0.0.1:<port>/ws` */
  url: string;
  mode: Mode;
  /** Sockets opening at the same time (Infinity: all at once, the storm). */
  concurrency: number;
  timeoutMs: number;
  /**
   * The gateway's pid, as its `welcome` names it. A socket welcomed by any other process reached
   * a different server on the same port (uWS listens with SO_REUSEPORT) and fails.
   */
  worker?: string;
}

export interface ConnectOutcome {
  acked: number;
  failed: number;
  firstError?: string;
  /** Fresh sockets dropped by the server before their ack and reopened. */
  earlyCloses: number;
  /** Per socket: from `new WebSocket` to its `subscribed` ack, ms (the last attempt's). */
  connectMs: HistogramSnapshot;
  elapsedMs: number;
}

export interface WindowCounters {
  /** Every message received while measuring, on sockets that are not stalled. */
  messages: number;
  /** Live ticks received while measuring (each has a latency sample). */
  ticks: number;
  snapshots: number;
  /** Sockets closed by the server while measuring, by close code. */
  closes: Record<string, number>;
  latency: HistogramSnapshot;
}

export class ClientPool {
  private readonly latency = new LatencyHistogram();
  private counters = { messages: 0, ticks: 0, snapshots: 0, closes: {} as Record<string, number> };
  private measuring = false;
  private stopping = false;
  private liveTokens: Set<number> | undefined;
  private readonly sockets: WebSocket[] = [];
  private readonly stalled = new Set<number>();
  /** Server messages other than ticks, by type, over the whole run (for diagnosis). */
  readonly otherMessages: Record<string, number> = {};
  /** Server closes over the whole run, by code (stalled sockets included once they see it). */
  readonly allCloses: Record<string, number> = {};

  /** Opens and subscribes `conns` (appended after the sockets already open). Never rejects. */
  async connect(conns: readonly PoolConnection[], opts: ConnectOptions): Promise<ConnectOutcome> {
    const started = performance.now();
    const connectMs = new LatencyHistogram();
    const out: ConnectOutcome = { acked: 0, failed: 0, earlyCloses: 0, connectMs: connectMs.snapshot(), elapsedMs: 0 };
    const base = this.sockets.length;
    this.sockets.length += conns.length;
    let next = 0;
    const lane = async () => {
      while (next < conns.length) {
        const i = next++;
        for (let attempt = 1; ; attempt++) {
          const t0 = performance.now();
          try {
            await this.connectOne(base + i, conns[i]!, opts);
            connectMs.record(Math.round(performance.now() - t0));
            out.acked++;
            break;
          } catch (err) {
            if (err instanceof EarlyCloseError && attempt < CONNECT_ATTEMPTS && !this.stopping) {
              out.earlyCloses++;
              continue;
            }
            out.failed++;
            out.firstError ??= (err as Error).message;
            break;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(opts.concurrency, conns.length) }, lane));
    out.connectMs = connectMs.snapshot();
    out.elapsedMs = Math.round(performance.now() - started);
    return out;
  }

  private connectOne(index: number, conn: PoolConnection, opts: ConnectOptions): Promise<void> {
    const url = conn.access ? `${opts.url}?access_token=${encodeURIComponent(conn.access)}` : opts.url;
    const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: opts.timeoutMs });
    this.sockets[index] = ws;
    return new Promise<void>((resolve, reject) => {
      let acked = false;
      const timer = setTimeout(() => fail(new Error(`no subscribe ack within ${opts.timeoutMs} ms`)), opts.timeoutMs);
      const fail = (err: Error) => {
        if (acked) return;
        acked = true;
        clearTimeout(timer);
        ws.terminate();
        reject(err);
      };
      ws.once('unexpected-response', (_req, res) => fail(new Error(`upgrade refused with HTTP ${res.statusCode}`)));
      ws.on('error', (err) => fail(new Error(err.message)));
      ws.once('open', () => ws.send(JSON.stringify({ op: 'subscribe', tokens: conn.tokens, mode: opts.mode, id: index })));
      ws.on('close', (code) => {
        fail(new EarlyCloseError(`closed with ${code} before its subscribe ack`));
        if (this.stopping) return;
        this.allCloses[code] = (this.allCloses[code] ?? 0) + 1;
        if (this.measuring && !this.stalled.has(index)) this.counters.closes[code] = (this.counters.closes[code] ?? 0) + 1;
      });
      ws.on('message', (data: Buffer) => {
        if (isTick(data)) return this.onTick(index, data);
        if (this.measuring && !this.stalled.has(index)) this.counters.messages++;
        const msg = this.onOther(data);
        if (msg.type === 'welcome' && opts.worker !== undefined && msg.worker !== opts.worker) {
          fail(new Error(`welcomed by worker ${String(msg.worker)}, not ${opts.worker}: another server shares the port`));
        }
        if (msg.type === 'subscribed' && !acked) {
          acked = true;
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  /** The hot path: runs once per delivered tick. */
  private onTick(index: number, data: Buffer): void {
    if (!this.measuring) {
      if (this.liveTokens !== undefined && !isSnapshot(data)) this.liveTokens.add(readUint(data, TOKEN_AT));
      return;
    }
    if (this.stalled.size > 0 && this.stalled.has(index)) return;
    const c = this.counters;
    c.messages++;
    if (isSnapshot(data)) {
      c.snapshots++;
      return;
    }
    c.ticks++;
    const at = tsDigitsAt(data);
    if (at >= 0) this.latency.record(Date.now() - readUint(data, at));
  }

  private onOther(data: Buffer): { type: string; worker?: unknown } {
    let msg: { type: string; worker?: unknown } = { type: 'unreadable' };
    try {
      const m = JSON.parse(data.toString('utf8')) as { type?: unknown; worker?: unknown };
      if (typeof m.type === 'string') msg = { type: m.type, worker: m.worker };
    } catch {
      // counted as unreadable
    }
    this.otherMessages[msg.type] = (this.otherMessages[msg.type] ?? 0) + 1;
    return msg;
  }

  /** Starts noting which tokens tick live (snapshots do not count). */
  watchTokens(): void {
    this.liveTokens = new Set();
  }

  /** Tokens that ticked live since `watchTokens`. */
  tokensSeen(): number[] {
    return [...(this.liveTokens ?? [])];
  }

  /**
   * These sockets stop reading: their TCP receive buffer fills, then the server's send buffer,
   * as with a client stuck in a long computation. They no longer count in the window's figures.
   */
  stall(indexes: readonly number[]): number {
    let n = 0;
    for (const i of indexes) {
      const ws = this.sockets[i];
      if (!ws || ws.readyState !== WebSocket.OPEN) continue;
      ws.pause();
      this.stalled.add(i);
      n++;
    }
    return n;
  }

  startMeasuring(): void {
    this.counters = { messages: 0, ticks: 0, snapshots: 0, closes: {} };
    this.latency.reset();
    this.measuring = true;
  }

  stopMeasuring(): WindowCounters {
    this.measuring = false;
    return { ...this.counters, latency: this.latency.snapshot() };
  }

  /** Open sockets, stalled ones included (a stalled socket does not see its close). */
  get openSockets(): number {
    return this.sockets.filter((ws) => ws?.readyState === WebSocket.OPEN).length;
  }

  /** Drops every connection at once (no close handshake: the server sees the TCP close). */
  closeAll(): void {
    this.stopping = true;
    this.measuring = false;
    for (const ws of this.sockets) ws?.terminate();
    this.sockets.length = 0;
  }
}
