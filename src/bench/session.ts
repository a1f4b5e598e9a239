/**
 * One server under load within a scenario: the target (tickgate or bare) started on the
 * scenario's feed, the client processes, the sockets opened and subscribed, and measurement
 * windows taken on demand. A scenario opens one session per server, one after the other (never
 * both at once: they would share the machine's cores), and closes each, whatever happened.
 */
import type { Mode } from '../protocol/tick.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClientFleet, type FleetConnect } from './client-fleet.ts';
import type { FeedPublisher } from './feed-publisher.ts';
import { cpuSeconds, rssKiB } from './proc-stats.ts';
import type { Measurement } from './report.ts';
import { startTarget, type Target, type TargetKind } from './targets.ts';

/** Opening and subscribing every socket must finish within this long per socket's attempt. */
const CONNECT_TIMEOUT_MS = 30_000;
/** Once every socket is subscribed, every subscribed token must tick live within this long. */
const TICKS_FLOWING_TIMEOUT_MS = 30_000;
/** Sockets opening at the same time per client process, except in the storm. */
const CONNECT_CONCURRENCY = 200;
/**
 * A client process is flagged as a possible limit only when it is busier than the busiest server
 * process and also busy in itself: at light load both idle, and which idles more says nothing.
 */
const CLIENT_BUSY_CORES = 0.5;

export interface Shape {
  connections: number;
  /** Distinct tokens the feed publishes. */
  tokens: number;
  /** Tokens per socket: a block of consecutive tokens, shifted by this much per socket. */
  tokensPerConnection: number;
  mode: Mode;
  /** Sockets that subscribe to every token instead (the stalled readers' heavy watchers). */
  everyToken?: (i: number) => boolean;
}

export interface SessionOptions {
  kind: TargetKind;
  feed: FeedPublisher;
  feedEndpoint: string;
  dir: string;
  clientProcesses: number;
  signal: AbortSignal;
  say: (line: string) => void;
  env?: Record<string, string>;
}

/** Token indexes of socket `i`: `tokensPerConnection` consecutive ones from `i × tokensPerConnection`, wrapping. */
export function tokenIndexesFor(s: Shape, i: number): number[] {
  if (s.everyToken?.(i)) return Array.from({ length: s.tokens }, (_, t) => t);
  const per = Math.min(s.tokensPerConnection, s.tokens);
  const start = (i * per) % s.tokens;
  return Array.from({ length: per }, (_, j) => (start + j) % s.tokens);
}

/** Subscribers per token index over the sockets `i` for which `counted(i)` holds. */
export function subscriberCounts(s: Shape, counted: (i: number) => boolean = () => true): Uint32Array {
  const counts = new Uint32Array(s.tokens);
  for (let i = 0; i < s.connections; i++) if (counted(i)) for (const t of tokenIndexesFor(s, i)) counts[t]!++;
  return counts;
}

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

export class Session {
  /** Gateway (or bare server) RSS before any socket, and once all are open and warmed up. */
  rssBeforeKiB = 0;
  rssAfterKiB = 0;
  private stalled = new Set<number>();

  private constructor(readonly shape: Shape, readonly target: Target, readonly fleet: ClientFleet, private readonly opts: SessionOptions,
    readonly signal: AbortSignal) {}

  /** Starts the server and the client processes; opens no socket yet. */
  static async start(shape: Shape, opts: SessionOptions): Promise<Session> {
    opts.say(`${opts.kind}: starting`);
    const target = await startTarget(opts.kind, { dir: opts.dir, feedEndpoint: opts.feedEndpoint, signal: opts.signal, env: opts.env });
    const died = new AbortController();
    target.died.catch((err: Error) => died.abort(err));
    let fleet: ClientFleet;
    try {
      fleet = await ClientFleet.start(opts.clientProcesses);
    } catch (err) {
      await target.stop();
      throw err;
    }
    opts.feed.setSubscribers(subscriberCounts(shape));
    const session = new Session(shape, target, fleet, opts, AbortSignal.any([opts.signal, died.signal]));
    session.rssBeforeKiB = rssKiB(target.socketHolderPid);
    return session;
  }

  /**
   * Opens and subscribes every socket (`concurrency` at a time per client process; Infinity for
   * the storm). Throws unless every socket was acked, with the first reason.
   */
  async connect(concurrency = CONNECT_CONCURRENCY): Promise<FleetConnect> {
    const access = await this.target.accessTokens(this.shape.connections, this.signal);
    const tokens = this.opts.feed.tokens;
    const conns = Array.from({ length: this.shape.connections }, (_, i) => ({
      access: access(i), tokens: tokenIndexesFor(this.shape, i).map((t) => tokens[t]!),
    }));
    await this.fleet.watchTokens();
    const out = await Promise.race([
      this.fleet.connect(conns, { url: this.target.wsUrl, mode: this.shape.mode, concurrency, timeoutMs: CONNECT_TIMEOUT_MS, worker: this.target.worker }),
      this.target.died,
    ]);
    this.signal.throwIfAborted();
    if (out.failed > 0) throw new Error(`${this.target.kind}: ${out.failed} of ${this.shape.connections} sockets failed to open and subscribe: ${out.firstError}`);
    return out;
  }

  /** Waits until every subscribed token ticked live, then `warmupS`; then notes the RSS. */
  async warmUp(warmupS: number): Promise<void> {
    const counts = subscriberCounts(this.shape);
    const subscribed = this.opts.feed.tokens.filter((_, i) => counts[i]! > 0);
    await this.fleet.untilTicking(subscribed, TICKS_FLOWING_TIMEOUT_MS, this.signal);
    await sleep(warmupS * 1000, undefined, { signal: this.signal });
    this.rssAfterKiB = rssKiB(this.target.socketHolderPid);
  }

  /** From now on these sockets stop reading and no longer count (nor do their tokens' deliveries to them). */
  async stall(indexes: number[]): Promise<number> {
    for (const i of indexes) this.stalled.add(i);
    this.opts.feed.setSubscribers(subscriberCounts(this.shape, (i) => !this.stalled.has(i)));
    return this.fleet.stall(indexes);
  }

  /** One measurement window of `durationS` at the feed's current rate. */
  async measure(label: string, durationS: number): Promise<Measurement> {
    const feed = this.opts.feed;
    const procs = this.target.serverProcesses;
    const start = {
      at: performance.now(),
      server: procs.map((p) => cpuSeconds(p.pid)),
      clients: this.fleet.cpuSeconds(),
      self: process.cpuUsage(),
      published: feed.published,
      expected: feed.expectedDeliveries,
      logLines: this.target.logLines(),
    };
    await this.fleet.startMeasuring();
    await sleep(durationS * 1000, undefined, { signal: this.signal });
    // The feed's side of the window ends as the stop request leaves, not when its answer is back:
    // ticks published during that round trip can no longer be counted by the clients.
    const end = { at: performance.now(), published: feed.published, expected: feed.expectedDeliveries };
    const w = await this.fleet.stopMeasuring();
    const windowS = (end.at - start.at) / 1000;
    const serverCpuS = Object.fromEntries(procs.map((p, k) => [p.name, round(cpuSeconds(p.pid) - start.server[k]!, 3)]));
    const serverS = Object.values(serverCpuS).reduce((a, b) => a + b, 0);
    const busiestServerCores = Math.max(...Object.values(serverCpuS)) / windowS;
    const clientCores = this.fleet.cpuSeconds().map((c, k) => round((c - start.clients[k]!) / windowS, 3));
    const self = process.cpuUsage(start.self);
    const expected = end.expected - start.expected;
    const counted = this.shape.connections - this.stalled.size;
    return {
      target: this.target.kind,
      label,
      connections: counted,
      tokens: this.shape.tokens,
      tokensPerConnection: Math.min(this.shape.tokensPerConnection, this.shape.tokens),
      mode: this.shape.mode,
      windowS: round(windowS, 3),
      offeredTicksPerSec: feed.rate,
      publishedTicksPerSec: round((end.published - start.published) / windowS, 1),
      deliveredMsgsPerSec: round(w.messages / windowS, 1),
      deliveryRatio: expected === 0 ? 0 : round(w.ticks / expected, 4),
      latencyMs: w.latency.summary(),
      serverCpuS,
      serverCores: round(serverS / windowS, 3),
      busiestServerCores: round(busiestServerCores, 3),
      serverCpuSecPerMillionMsgs: w.messages === 0 ? null : round(serverS / (w.messages / 1e6), 3),
      serverRssKiB: rssKiB(this.target.socketHolderPid),
      rssPerConnectionKiB: this.rssAfterKiB === 0 ? null : round((this.rssAfterKiB - this.rssBeforeKiB) / this.shape.connections, 2),
      clientCores,
      feedCores: round((self.user + self.system) / 1e6 / windowS, 3),
      clientBusierThanServer: Math.max(...clientCores) > Math.max(busiestServerCores, CLIENT_BUSY_CORES),
      closes: w.closes,
      serverLogLines: this.target.logLines() - start.logLines,
    };
  }

  /** Drops the sockets, ends the client processes, stops the server; the feed idles. Never throws. */
  async close(): Promise<void> {
    this.opts.feed.setRate(0);
    await this.fleet.stop();
    await this.target.stop();
  }
}
