/**
 * `npm run soak -- --minutes N`: tickgate under steady load and continuous churn for a while,
 * sampled every few seconds, to see whether anything grows that should not (memory, sockets,
 * subscriptions, event-loop lag, Redis memory). Not part of CI. Run directly:
 *
 *   node --import tsx src/bench/soak.ts --minutes 30
 *
 * It starts its own redis-server, ingester and gateway (child processes, like the bench), the
 * bench's feed publisher, a fixed set of steady sockets in a client process, and the churn
 * (soak-churn.ts). At the end it prints each series' drift after warm-up (soak-stats.ts) and
 * writes everything to bench/results/soak-<date>.json.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { parseCommandLine } from '../cli/command-line.ts';
import { freePort } from '../start/embedded-redis.ts';
import { DEFAULT_OUT_DIR, readNumber } from './cli.ts';
import { ClientFleet } from './client-fleet.ts';
import { FeedPublisher } from './feed-publisher.ts';
import { metricValue } from './metrics-text.ts';
import { rssKiB } from './proc-stats.ts';
import { localDate, machineInfo, writeJson } from './report.ts';
import { startServers } from './servers.ts';
import { tokenIndexesFor } from './session.ts';
import { Churn } from './soak-churn.ts';
import { drift, type Drift, type Point } from './soak-stats.ts';

export const SOAK_USAGE = `usage: npm run soak -- [options]

  --minutes M     how long to run (default 10; fractions allowed, e.g. 0.5)
  --rate N        feed ticks per second over 100 tokens (default 1000)
  --sockets N     steady sockets, 10 tokens each (default 500)
  --churn N       churn cycles per second: connect, subscribe, unsubscribe, close (default 10)
  --interval S    seconds between samples (default 5, or less for short runs)
  --out DIR       where soak-<date>.json goes (default bench/results)`;

export interface SoakArgs {
  minutes: number;
  rate: number;
  sockets: number;
  churnPerSec: number;
  intervalS: number;
  outDir: string;
}

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  minutes: { type: 'string' }, rate: { type: 'string' }, sockets: { type: 'string' },
  churn: { type: 'string' }, interval: { type: 'string' }, out: { type: 'string' },
} as const;

export function parseSoakArgs(argv: readonly string[]): { ok: true; value: SoakArgs } | { ok: false; error: string } | { ok: 'help' } {
  const cl = parseCommandLine(argv, OPTIONS);
  if (!cl.ok) return cl;
  const { values: v, positionals } = cl;
  if (v.help) return { ok: 'help' };
  if (positionals.length > 0) return { ok: false, error: `unknown argument "${positionals[0]}"` };
  const n = {
    minutes: v.minutes === undefined ? 10 : readNumber('--minutes', v.minutes, 0.1, 7 * 24 * 60, false),
    rate: v.rate === undefined ? 1_000 : readNumber('--rate', v.rate, 1, 1_000_000, true),
    sockets: v.sockets === undefined ? 500 : readNumber('--sockets', v.sockets, 0, 50_000, true),
    churnPerSec: v.churn === undefined ? 10 : readNumber('--churn', v.churn, 0, 1_000, false),
    intervalS: v.interval === undefined ? undefined : readNumber('--interval', v.interval, 0.5, 3_600, false),
  };
  for (const x of Object.values(n)) if (typeof x === 'string') return { ok: false, error: x };
  if (v.out === '') return { ok: false, error: '--out needs a directory' };
  const minutes = n.minutes as number;
  return {
    ok: true,
    value: {
      minutes, rate: n.rate as number, sockets: n.sockets as number, churnPerSec: n.churnPerSec as number,
      // At least a dozen samples however short the run, so the drift has something to fit.
      intervalS: (n.intervalS as number | undefined) ?? Math.min(5, (minutes * 60) / 12),
      outDir: v.out === undefined ? DEFAULT_OUT_DIR : path.resolve(v.out),
    },
  };
}

const SERIES = ['gatewayRssKiB', 'ingesterRssKiB', 'sockets', 'subscriptions', 'eventLoopLagMs', 'redisUsedMemoryKiB'] as const;
type Sample = { t: number } & Record<(typeof SERIES)[number], number>;

export async function runSoak(args: SoakArgs, signal: AbortSignal, say: (line: string) => void) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickgate-soak-'));
  const endpoint = `tcp://127.0.0.1:${await freePort()}`;
  const shape = { connections: args.sockets, tokens: 100, tokensPerConnection: 10, mode: 'quote' as const };
  const feed = await FeedPublisher.bind(endpoint, shape.tokens, args.rate);
  // The soak's clients never refresh: with the default 15-minute access token every socket would
  // be closed 4001 and every churn connect refused 401 halfway through a 30-minute run.
  const servers = await startServers({ dir, feedEndpoint: endpoint, signal, env: { ACCESS_TTL_S: String(24 * 3600) } });
  const fleet = await ClientFleet.start(1);
  const redis = new Redis(servers.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  let churn: Churn | undefined;
  const samples: Sample[] = [];
  const startedAt = new Date();
  try {
    await redis.connect();
    const [access] = await servers.login(1, signal);
    feed.start();
    say(`opening ${args.sockets} steady sockets; churn ${args.churnPerSec}/s; ${args.rate} ticks/s; ${args.minutes} min, a sample every ${args.intervalS} s`);
    const conns = Array.from({ length: args.sockets }, (_, i) => ({ access: access!, tokens: tokenIndexesFor(shape, i).map((t) => feed.tokens[t]!) }));
    const c = await fleet.connect(conns, { url: servers.wsUrl, mode: 'quote', concurrency: 100, timeoutMs: 30_000 });
    if (c.failed > 0) throw new Error(`${c.failed} steady sockets failed: ${c.firstError}`);
    churn = new Churn(servers.wsUrl, access!, feed.tokens, args.churnPerSec);
    churn.start();
    const t0 = performance.now();
    const endS = args.minutes * 60;
    for (let k = 1; ; k++) {
      const due = k * args.intervalS;
      if (due > endS + 1e-9) break;
      await Promise.race([sleep(t0 + due * 1000 - performance.now(), undefined, { signal }), servers.died]);
      const metrics = await servers.metrics();
      const info = await redis.info('memory');
      const s: Sample = {
        t: Math.round((performance.now() - t0) / 100) / 10,
        gatewayRssKiB: rssKiB(servers.gateway.pid),
        ingesterRssKiB: rssKiB(servers.ingester.pid),
        sockets: metricValue(metrics, 'tickgate_sockets') ?? 0,
        subscriptions: metricValue(metrics, 'tickgate_subscriptions') ?? 0,
        eventLoopLagMs: Math.round((metricValue(metrics, 'tickgate_event_loop_lag_seconds', { role: 'gateway' }) ?? 0) * 1e4) / 10,
        redisUsedMemoryKiB: Math.round(Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? 0) / 1024),
      };
      samples.push(s);
      say(`t=${s.t}s gateway ${Math.round(s.gatewayRssKiB / 1024)} MiB, ingester ${Math.round(s.ingesterRssKiB / 1024)} MiB, ` +
        `${s.sockets} sockets, ${s.subscriptions} subscriptions, loop lag p99 ${s.eventLoopLagMs} ms, redis ${Math.round(s.redisUsedMemoryKiB / 1024)} MiB; ` +
        `churn ${churn.counts.completed} done, ${churn.counts.failed} failed`);
    }
  } finally {
    churn?.stop();
    feed.close();
    await fleet.stop();
    redis.disconnect();
    await servers.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const durationS = args.minutes * 60;
  const drifts = Object.fromEntries(SERIES.map((name) => [name, drift(samples.map((s): Point => ({ t: s.t, v: s[name] })), durationS)])) as Record<(typeof SERIES)[number], Drift>;
  const report = {
    date: localDate(startedAt), startedAt: startedAt.toISOString(), machine: machineInfo(), settings: args,
    churn: churn?.counts, drift: drifts, samples,
  };
  const file = writeJson(args.outDir, `soak-${report.date}.json`, report);
  return { report, file };
}

export function formatDrift(drifts: Record<string, Drift>): string {
  const pct = (v: number | null) => (v === null ? '-' : `${v >= 0 ? '+' : ''}${v.toFixed(1)}%`);
  const rows = Object.entries(drifts).map(([name, d]) => [name, String(d.mean), pct(d.fitPct), pct(d.windowPct), d.perMinute === null ? '-' : String(d.perMinute), String(d.samples)]);
  const header = ['series', 'mean', 'drift (fit)', 'drift (last vs first window)', 'slope/min', 'samples'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  const parsed = parseSoakArgs(argv);
  if (parsed.ok === 'help') return (console.log(SOAK_USAGE), 0);
  if (!parsed.ok) return (console.error(`soak: ${parsed.error}\n\n${SOAK_USAGE}`), 2);
  const ac = new AbortController();
  const stop = () => ac.abort(new Error('interrupted'));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const { report, file } = await runSoak(parsed.value, ac.signal, (l) => process.stderr.write(`[soak] ${l}\n`));
    console.log(`\ndrift after the first 20% (warm-up) of ${parsed.value.minutes} min:\n${formatDrift(report.drift)}\n` +
      `churn: ${report.churn?.completed} cycles, ${report.churn?.failed} failed${report.churn?.errors.length ? ` (${report.churn.errors.join('; ')})` : ''}\n\nwrote ${file}`);
    return 0;
  } catch (err) {
    if (ac.signal.aborted) return (console.error('soak: interrupted; everything it started is stopped'), 130);
    console.error(`soak: ${(err as Error).stack ?? err}`);
    return 1;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
