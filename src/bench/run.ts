/**
 * One scenario from start to finish, and a run of several. Per scenario: its own Redis, ingester
 * and gateway (child processes), feed publisher and clients; users logged in over HTTP; every
 * socket opened and subscribed; warm-up until every token ticks; a fixed measurement window; then
 * everything torn down, whatever happened.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../start/embedded-redis.ts';
import { ClientPool } from './clients.ts';
import { FeedPublisher } from './feed-publisher.ts';
import { cpuSeconds, rssKiB } from './proc-stats.ts';
import {
  CLIENT_SATURATED_ELU, localDate, machineInfo, writeReport,
  type BenchReport, type ScenarioFailure, type ScenarioResult,
} from './report.ts';
import { subscriberCounts, tokenIndexesFor, type Scenario } from './scenarios.ts';
import { startServers, type Servers } from './servers.ts';

/** Sockets per user: several share a login, as one user's devices would. */
const CONNECTIONS_PER_USER = 250;
/** Once every socket is subscribed, every token must tick live within this long. */
const TICKS_FLOWING_TIMEOUT_MS = 30_000;
/** Opening and subscribing every socket must finish within this long. */
const CONNECT_ALL_TIMEOUT_MS = 120_000;

export interface RunOptions {
  durationS: number;
  warmupS: number;
  signal?: AbortSignal;
  /** Progress lines (default: none). */
  progress?: (line: string) => void;
}

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

export async function runScenario(s: Scenario, opts: RunOptions): Promise<ScenarioResult> {
  const say = (line: string) => opts.progress?.(`${s.name}: ${line}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickgate-bench-'));
  let feed: FeedPublisher | undefined;
  let servers: Servers | undefined;
  let pool: ClientPool | undefined;
  // Aborted by the caller, or when a server process dies: every wait below then ends at once.
  const died = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, died.signal]) : died.signal;
  try {
    const feedEndpoint = `tcp://127.0.0.1:${await freePort()}`;
    feed = await FeedPublisher.bind(feedEndpoint, s.tokens, s.ratePerSec);
    say('starting redis-server, ingester and gateway');
    servers = await startServers({ dir, feedEndpoint, signal });
    servers.died.catch((err: Error) => died.abort(err));
    const { ingester, gateway } = servers;

    const users = Math.ceil(s.connections / CONNECTIONS_PER_USER);
    say(`logging in ${users} user${users === 1 ? '' : 's'}`);
    const access = await servers.login(users, signal);

    const counts = subscriberCounts(s);
    feed.setSubscribers(counts);
    feed.start();
    const tokens = feed.tokens;
    // With few connections (--connections) some tokens may have no subscriber: never waited for.
    const subscribed = tokens.filter((_, i) => counts[i]! > 0);
    pool = new ClientPool({
      url: servers.wsUrl,
      connections: s.connections,
      mode: s.mode,
      worker: String(gateway.pid),
      accessFor: (i) => access[Math.floor(i / CONNECTIONS_PER_USER)]!,
      tokensFor: (i) => tokenIndexesFor(s, i).map((t) => tokens[t]!),
    });

    const rssBefore = rssKiB(gateway.pid);
    say(`opening ${s.connections} sockets`);
    pool.watchTokens();
    await pool.connectAll(AbortSignal.any([signal, AbortSignal.timeout(CONNECT_ALL_TIMEOUT_MS)]));
    await pool.untilTicking(subscribed, TICKS_FLOWING_TIMEOUT_MS, signal);
    say(`ticks flowing for all ${subscribed.length} subscribed tokens; warming up ${opts.warmupS} s`);
    await sleep(opts.warmupS * 1000, undefined, { signal });
    const rssAfter = rssKiB(gateway.pid);

    say(`measuring ${opts.durationS} s`);
    const start = {
      at: performance.now(),
      ingester: cpuSeconds(ingester.pid),
      gateway: cpuSeconds(gateway.pid),
      self: process.cpuUsage(),
      elu: performance.eventLoopUtilization(),
      published: feed.published,
      expected: feed.expectedDeliveries,
    };
    pool.startMeasuring();
    await sleep(opts.durationS * 1000, undefined, { signal });
    const counters = pool.stopMeasuring();
    const openAtEnd = pool.openSockets;
    const windowS = (performance.now() - start.at) / 1000;
    const ingesterS = cpuSeconds(ingester.pid) - start.ingester;
    const gatewayS = cpuSeconds(gateway.pid) - start.gateway;
    const self = process.cpuUsage(start.self);
    const elu = performance.eventLoopUtilization(start.elu).utilization;
    const published = feed.published - start.published;
    const expected = feed.expectedDeliveries - start.expected;
    const latency = pool.latency.summary();

    const clientCpuS = (self.user + self.system) / 1e6;
    const serverS = ingesterS + gatewayS;
    return {
      name: s.name,
      about: s.about,
      connections: s.connections,
      tokens: s.tokens,
      tokensPerConnection: Math.min(s.tokensPerConnection, s.tokens),
      mode: s.mode,
      windowS: round(windowS, 3),
      offeredTicksPerSec: s.ratePerSec,
      publishedTicksPerSec: round(published / windowS, 1),
      deliveredMsgsPerSec: round(counters.messages / windowS, 1),
      deliveryRatio: expected === 0 ? 0 : round(counters.ticks / expected, 4),
      latencyMs: latency,
      serverCpu: {
        ingesterS: round(ingesterS, 2),
        gatewayS: round(gatewayS, 2),
        ingesterCores: round(ingesterS / windowS, 3),
        gatewayCores: round(gatewayS / windowS, 3),
      },
      serverCpuSecPerMillionMsgs: counters.messages === 0 ? null : round(serverS / (counters.messages / 1e6), 3),
      gatewayRssKiB: { before: rssBefore, after: rssAfter },
      rssPerConnectionKiB: round((rssAfter - rssBefore) / s.connections, 2),
      client: {
        cpuS: round(clientCpuS, 2),
        cores: round(clientCpuS / windowS, 3),
        eventLoopUtilization: round(elu, 3),
        saturated: elu > CLIENT_SATURATED_ELU,
      },
      closes: counters.closes,
      openAtEnd,
      reconnects: pool.earlyCloses,
      nonTickMessages: { ...pool.otherMessages },
      serverLogLines: { ingester: ingester.logLines(), gateway: gateway.logLines() },
    };
  } catch (err) {
    // A server that died explains the failure better than the wait it interrupted. Its sockets
    // may close before its exit is reported, so give the exit a moment to arrive.
    if (servers && !died.signal.aborted) await Promise.race([servers.died.catch(() => {}), sleep(1_000)]);
    if (died.signal.aborted) throw died.signal.reason;
    throw withServerState(err as Error, servers);
  } finally {
    pool?.closeAll();
    feed?.close();
    await servers?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Adds what the server processes logged (and whether they still run) to a scenario's error. */
function withServerState(err: Error, servers: Servers | undefined): Error {
  if (!servers || (err as { name?: string }).name === 'AbortError') return err;
  const notes = [servers.ingester, servers.gateway].flatMap((r) => {
    const tail = r.logTail();
    if (r.running() && tail.length === 0) return [];
    return [`${r.name} ${r.running() ? 'running' : 'exited'}; last log lines:\n${tail.join('\n')}`];
  });
  return notes.length === 0 ? err : new Error(`${err.message}\n${notes.join('\n')}`);
}

export interface BenchOptions extends RunOptions {
  scenarios: readonly Scenario[];
  /** Where `<date>.json` goes. */
  outDir: string;
  quick?: boolean;
}

/**
 * Runs the scenarios one after another (a failed one is recorded and the rest still run), then
 * writes the JSON report. An abort stops at once and writes nothing.
 */
export async function runBench(opts: BenchOptions): Promise<{ report: BenchReport; file: string }> {
  const startedAt = new Date();
  const results: ScenarioResult[] = [];
  const failures: ScenarioFailure[] = [];
  for (const s of opts.scenarios) {
    opts.signal?.throwIfAborted();
    try {
      results.push(await runScenario(s, opts));
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      failures.push({ name: s.name, error: (err as Error).message ?? String(err) });
      opts.progress?.(`${s.name}: FAILED: ${(err as Error).message}`);
    }
  }
  const report: BenchReport = {
    date: localDate(startedAt),
    startedAt: startedAt.toISOString(),
    machine: machineInfo(),
    settings: { durationS: opts.durationS, warmupS: opts.warmupS, quick: opts.quick ?? false },
    scenarios: results,
    failures,
  };
  return { report, file: writeReport(opts.outDir, report) };
}
