/**
 * Many WebSocket clients in one process (the `ws` package), built to stay out of the way of the
 * server being measured: a tick is recognised by one byte, its `ts` is read by a byte scan (no
 * JSON.parse, no string), and its latency is one array increment. Only the rare other messages
 * (welcome, subscribed, status, …) are parsed.
 */
import WebSocket from 'ws';
import { LatencyHistogram } from './latency-histogram.ts';

/** `{"type":"` is 9 bytes; of all server message types only `tick` starts with `t`. */
const TYPE_AT = 9;
const CHAR_t = 0x74;
/** `{"type":"tick","token":` — encodeTick's fixed prefix, so the token's digits start here. */
const TOKEN_AT = 23;
/** encodeTick's key order is fixed: `…"token":T,"seq":S,"ts":…`, so `ts` is found by skipping. */
const SEQ_KEY_BYTES = ',"seq":'.length;
const TS_KEY_BYTES = ',"ts":'.length;
const TS_KEY = Buffer.from('"ts":');
const COLON = 0x3a;
/** A snapshot tick ends with `"snapshot":true}`; a live tick ends with a digit, `]` or `}`. */
const CHAR_e = 0x65;
const DIGIT_0 = 0x30;

const OPEN_CONCURRENCY = 100;
const CONNECT_TIMEOUT_MS = 15_000;
/** Attempts per connection when the server drops a fresh socket before its subscribe ack. */
const CONNECT_ATTEMPTS = 3;

/**
 * The server closed a freshly opened socket before its subscribe ack. uWebSockets.js can do this
 * when an asynchronous upgrade is corked and the open handler sends (uNetworking/uWebSockets
 * #1928): the socket is dropped right after the 101. A client reconnects; the bench retries a
 * bounded number of times and reports how often it had to.
 */
class EarlyCloseError extends Error {}

export interface ClientPlan {
  /** `ws://127.0.0.1:<port>/ws` */
  url: string;
  /** The access token connection `i` logs in with. */
  accessFor(i: number): string;
  /** Tokens connection `i` subscribes to. */
  tokensFor(i: number): number[];
  connections: number;
  mode: 'ltp' | 'quote' | 'full';
  /**
   * The gateway's pid, as its `welcome` names it. A socket welcomed by any other process reached
   * a different server on the same port (uWS listens with SO_REUSEPORT) and fails the run.
   */
  worker?: string;
}

export interface ClientCounters {
  /** Every message received while measuring. */
  messages: number;
  /** Live ticks received while measuring (each has a latency sample). */
  ticks: number;
  /** Snapshot ticks received while measuring (no latency: their `ts` is the value's age). */
  snapshots: number;
  /** Sockets the server closed while measuring, by close code. */
  closes: Record<string, number>;
}

function skipDigits(buf: Buffer, at: number): number {
  let i = at;
  while (i < buf.length && buf[i]! >= DIGIT_0 && buf[i]! <= DIGIT_0 + 9) i++;
  return i;
}

/** Where the digits of a tick's `ts` start: by skipping over token and seq, else by a search. */
function tsDigitsAt(buf: Buffer): number {
  const at = skipDigits(buf, skipDigits(buf, TOKEN_AT) + SEQ_KEY_BYTES) + TS_KEY_BYTES;
  if (buf[at - 1] === COLON && buf[at - 2] === 0x22 /* " */ && buf[at - 3] === 0x73 /* s */) return at;
  const found = buf.indexOf(TS_KEY, TOKEN_AT);
  return found < 0 ? -1 : found + TS_KEY.length;
}

function readUint(buf: Buffer, at: number): number {
  let v = 0;
  for (let i = at; i < buf.length; i++) {
    const d = buf[i]! - DIGIT_0;
    if (d < 0 || d > 9) break;
    v = v * 10 + d;
  }
  return v;
}

export class ClientPool {
  readonly latency = new LatencyHistogram();
  counters: ClientCounters = { messages: 0, ticks: 0, snapshots: 0, closes: {} };
  private measuring = false;
  private stopping = false;
  /** Tokens seen ticking live since `watchTokens` (undefined: not watching). */
  private liveTokens: Set<number> | undefined;
  private readonly sockets: WebSocket[] = [];
  /** Server messages other than ticks, by type, over the whole run (for diagnosis). */
  readonly otherMessages: Record<string, number> = {};
  /** Sockets the server closed before their subscribe ack, each retried (see EarlyCloseError). */
  earlyCloses = 0;

  constructor(private readonly plan: ClientPlan) {}

  /** Opens every connection and subscribes it; resolves when every `subscribed` ack is in. */
  async connectAll(signal?: AbortSignal): Promise<void> {
    let nextIndex = 0;
    const worker = async () => {
      while (nextIndex < this.plan.connections) {
        signal?.throwIfAborted();
        const i = nextIndex++;
        for (let attempt = 1; ; attempt++) {
          try {
            await this.connectOne(i);
            break;
          } catch (err) {
            if (!(err instanceof EarlyCloseError) || attempt >= CONNECT_ATTEMPTS) throw err;
            this.earlyCloses++;
            signal?.throwIfAborted();
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, this.plan.connections) }, worker));
  }

  private connectOne(i: number): Promise<void> {
    const url = `${this.plan.url}?access_token=${encodeURIComponent(this.plan.accessFor(i))}`;
    const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: CONNECT_TIMEOUT_MS });
    this.sockets.push(ws);
    return new Promise<void>((resolve, reject) => {
      let acked = false;
      const timer = setTimeout(() => fail(new Error(`connection ${i}: no subscribe ack within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
      const fail = (err: Error) => {
        if (acked) return;
        acked = true;
        clearTimeout(timer);
        ws.terminate();
        reject(err);
      };
      ws.once('unexpected-response', (_req, res) => fail(new Error(`connection ${i}: upgrade refused with HTTP ${res.statusCode}`)));
      ws.on('error', (err) => fail(new Error(`connection ${i}: ${err.message}`)));
      ws.once('open', () => {
        ws.send(JSON.stringify({ op: 'subscribe', tokens: this.plan.tokensFor(i), mode: this.plan.mode, id: i }));
      });
      let welcomed = false;
      ws.on('close', (code) => {
        fail(new EarlyCloseError(`connection ${i}: closed with ${code} before its subscribe ack (${welcomed ? 'after' : 'before'} its welcome)`));
        if (this.measuring && !this.stopping) this.counters.closes[code] = (this.counters.closes[code] ?? 0) + 1;
      });
      ws.on('message', (data: Buffer) => {
        if (data[TYPE_AT] === CHAR_t) return this.onTick(data);
        if (this.measuring) this.counters.messages++;
        const msg = this.onOther(data);
        if (msg.type === 'welcome') {
          welcomed = true;
          if (this.plan.worker !== undefined && msg.worker !== this.plan.worker) {
            fail(new Error(`connection ${i}: welcomed by worker ${String(msg.worker)}, not the bench's gateway ${this.plan.worker}: another server shares the port`));
          }
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
  private onTick(data: Buffer): void {
    if (!this.measuring) {
      if (this.liveTokens !== undefined && data[data.length - 2] !== CHAR_e) this.liveTokens.add(readUint(data, TOKEN_AT));
      return;
    }
    const c = this.counters;
    c.messages++;
    if (data[data.length - 2] === CHAR_e) {
      c.snapshots++;
      return;
    }
    c.ticks++;
    const at = tsDigitsAt(data);
    if (at >= 0) this.latency.record(Date.now() - readUint(data, at));
  }

  /** Any message but a tick: parsed and counted by type. */
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

  /** Resolves once every token in `tokens` ticked live since `watchTokens`; rejects at the deadline. */
  async untilTicking(tokens: readonly number[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      signal?.throwIfAborted();
      const seen = this.liveTokens ?? new Set<number>();
      const missing = tokens.filter((t) => !seen.has(t));
      if (missing.length === 0) {
        this.liveTokens = undefined;
        return;
      }
      if (Date.now() > deadline) {
        throw new Error(`no live tick within ${timeoutMs} ms for ${missing.length} of ${tokens.length} tokens (e.g. ${missing.slice(0, 5).join(', ')})`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Zeroes the counters and the histogram and starts counting. */
  startMeasuring(): void {
    this.counters = { messages: 0, ticks: 0, snapshots: 0, closes: {} };
    this.latency.reset();
    this.measuring = true;
  }

  stopMeasuring(): ClientCounters {
    this.measuring = false;
    return this.counters;
  }

  get openSockets(): number {
    return this.sockets.filter((ws) => ws.readyState === WebSocket.OPEN).length;
  }

  /** Drops every connection at once (no close handshake: the server sees the TCP close). */
  closeAll(): void {
    this.stopping = true;
    this.measuring = false;
    for (const ws of this.sockets) ws.terminate();
    this.sockets.length = 0;
  }
}
