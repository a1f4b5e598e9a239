/**
 * What the ingester alone costs per tick, and how many ticks per second one ingester core sustains.
 * Run: `npx tsx src/bench/ingest-only.ts [--quick] [--rates 10000,50000] [--seconds 5] [--cpu-prof DIR]
 * [--history-size N] [--subscribe-all] [--no-baseline]`.
 *
 * Setup: a private redis-server; a real `tickgate ingester` child (default HISTORY_SIZE, so the
 * history writes are included; no gateway, so nothing subscribes to the XPUB); and a feed
 * publisher in its own child process that sends pre-encoded simulator ticks (5-level depth, every
 * optional field, ~640 bytes each) round-robin over 50 tokens, so encoding feed JSON never limits
 * the rate and the publisher's CPU is not the ingester's. Every CPU figure is read from /proc.
 *
 * For each offered rate, ascending: a warm-up, then a window of `durationS` in which the ingester's
 * `status` counters, its CPU, the publisher's CPU and redis-server's CPU are sampled at both ends.
 * The ingester keeps up when it published at least 97 % of what was offered and its history writes
 * are not falling behind (tickets issued minus the newest seq in the history streams stays under a
 * second's worth). Stepping stops at the first rate it does not keep up with.
 *
 * `--cpu-prof DIR` runs the ingester under `node --cpu-prof` and prints its top functions by self
 * time per tick (the profile is written when the ingester stops); INGESTER_NODE_ARGS adds node flags.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import * as zmq from 'zeromq';
import { schema } from '../../config/schema.ts';
import { controlRequest } from '../ctl/request.ts';
import { makeInstruments, step } from '../feed/simulator.ts';
import { freePort, startEmbeddedRedis } from '../start/embedded-redis.ts';
import { Keys } from '../store/keys.ts';
import { TOKEN_TOPIC_PREFIX } from '../protocol/topics.ts';
import { cpuSeconds } from './proc-stats.ts';

const SELF = fileURLToPath(import.meta.url);
const MAIN = path.join(path.dirname(SELF), '..', 'main.ts');
const BARE_RELAY = path.join(path.dirname(SELF), 'bare-relay.ts');
const TSX_LOADER = import.meta.resolve('tsx');
const TOKENS = 50;
/** Distinct pre-encoded ticks per token: enough that values vary like a live feed. */
const VARIANTS = 64;
const KEEP_UP_RATIO = 0.97;
const DEFAULT_RATES = [10_000, 25_000, 50_000, 75_000, 100_000, 125_000, 150_000, 200_000];

export interface IngestOnlyStep {
  offeredPerS: number;
  /** Feed messages the publisher actually sent per second in the window. */
  publishedPerS: number;
  ticksInPerS: number;
  ticksOutPerS: number;
  ingesterCores: number;
  ingesterUsPerTick: number;
  publisherCores: number;
  redisCores: number;
  redisUsPerTick: number;
  /** Messages the SUB of `subscribeAll` received per second (0 without it). */
  receivedPerS: number;
  /** Ticks published but not yet in the history streams at the window's end. */
  historyLag: number;
  keptUp: boolean;
}

export interface IngestOnlyResult {
  tokens: number;
  historySize: number;
  durationS: number;
  /** The step at 10,000 ticks/s (the reference rate), if it ran. */
  at10k: IngestOnlyStep | undefined;
  /** Ticks the ingester published over the whole run (warm-ups included). */
  ticksOut: number;
  /** The highest offered rate the ingester kept up with (0 if none): on a busy machine, also a measure of the machine. */
  maxSustainedPerS: number;
  /** One core's worth of ticks at the CPU cost measured at 10,000 ticks/s (1e6 / µs per tick). */
  perCoreAt10kCostPerS: number | undefined;
  steps: IngestOnlyStep[];
  /** The bare relay on the same feed and rates, run right after the ingester (absent with `baseline: false`). */
  relay: RelayResult | undefined;
  /** Ingester µs per tick at 10,000 ticks/s over the relay's: how much dearer than the transport alone. */
  ratioToRelayAt10k: number | undefined;
  loadAverage: number[];
}

function redisCpu(info: string): number {
  const get = (k: string) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(info)![1]);
  return get('used_cpu_user') + get('used_cpu_sys');
}

/** The publisher child: binds, then publishes at whatever rate the parent sets. */
async function publisherMain(): Promise<void> {
  const pub = new zmq.Publisher({ sendHighWaterMark: 1_000_000, sendTimeout: 0 });
  const frames: [string, string][] = [];
  for (const inst of makeInstruments(TOKENS)) {
    for (let v = 0; v < VARIANTS; v++) frames.push([String(inst.token), JSON.stringify(step(inst))]);
  }
  // Round-robin over tokens: variant v of token i is at i * VARIANTS + v.
  const order = Array.from({ length: frames.length }, (_, k) => (k % TOKENS) * VARIANTS + Math.floor(k / TOKENS));
  let rate = 0;
  let published = 0;
  let next = 0;
  let owed = 0;
  let last = performance.now();
  // The bench went away (Ctrl-C, a crash): no orphan publisher left sending.
  process.on('disconnect', () => process.exit(0));
  process.on('message', async (m: { bind?: string; rate?: number; report?: boolean; stop?: boolean }) => {
    if (m.bind) {
      await pub.bind(m.bind);
      process.send!({ ready: true });
    }
    if (m.rate !== undefined) {
      rate = m.rate;
      owed = 0;
      last = performance.now();
    }
    if (m.report) process.send!({ published, pid: process.pid });
    if (m.stop) {
      pub.close();
      process.exit(0);
    }
  });
  const tick = () => {
    const now = performance.now();
    owed += ((now - last) / 1_000) * rate;
    last = now;
    // A late timer is caught up in one batch, so the average rate holds (bounded to 50 ms' worth).
    let n = Math.min(Math.floor(owed), Math.ceil(rate / 20));
    owed = Math.min(owed - n, rate / 20);
    while (n-- > 0) {
      pub.send(frames[order[next]!]!).catch(() => undefined);
      next = (next + 1) % order.length;
      published++;
    }
  };
  setInterval(tick, 1);
}

interface Publisher { child: ChildProcess; setRate(r: number): void; report(): Promise<number> }

async function startPublisher(endpoint: string): Promise<Publisher> {
  const child = fork(SELF, ['--publisher'], { execArgv: ['--import', TSX_LOADER], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  // One exit listener for the publisher's life (one per request piled up: a MaxListeners warning
  // after ten rate steps); it fails whichever request is waiting.
  let waiting: ((err: Error) => void) | undefined;
  child.once('exit', (c) => waiting?.(new Error(`publisher exited (${c})`)));
  const next = () => new Promise<any>((resolve, reject) => {
    waiting = reject;
    child.once('message', (m) => {
      waiting = undefined;
      resolve(m);
    });
  });
  const ready = next();
  child.send({ bind: endpoint });
  await ready;
  return {
    child,
    setRate: (rate) => child.send({ rate }),
    report: async () => {
      const r = next();
      child.send({ report: true });
      return (await r).published as number;
    },
  };
}

export interface IngestOnlyOptions {
  rates?: number[];
  durationS?: number;
  quick?: boolean;
  /** Run the ingester under `node --cpu-prof`, writing the profile here. */
  cpuProfDir?: string;
  /** HISTORY_SIZE for the ingester (default: the configuration default). */
  historySize?: number;
  /** A raw SUB subscribed to every token, so the ingester encodes and sends every tick. */
  subscribeAll?: boolean;
  /** Also run the bare zeromq.js relay (bare-relay.ts) on the same feed and rates (default true). */
  baseline?: boolean;
}

/** The bare relay's step at one offered rate: what moving the feed through zeromq.js alone costs. */
export interface RelayStep {
  offeredPerS: number;
  publishedPerS: number;
  receivedPerS: number;
  /** Messages it forwarded per second (0 when nothing subscribes). */
  sentPerS: number;
  relayCores: number;
  relayUsPerTick: number;
  keptUp: boolean;
}

export interface RelayResult {
  steps: RelayStep[];
  at10k: RelayStep | undefined;
  maxSustainedPerS: number;
}

export async function runIngestOnly(opts: IngestOnlyOptions = {}): Promise<IngestOnlyResult> {
  const durationS = opts.durationS ?? (opts.quick ? 3 : 8);
  const rates = opts.rates ?? (opts.quick ? [10_000, 50_000, 100_000] : DEFAULT_RATES);
  const warmS = opts.quick ? 1.5 : 3;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickgate-ingest-only-'));
  const server = await startEmbeddedRedis(path.join(dir, 'redis'));
  const redis = new Redis(server.url);
  const [feedPort, ingestPort, controlPort] = [await freePort(), await freePort(), await freePort()];
  const feedEndpoint = `tcp://127.0.0.1:${feedPort}`;
  const env: NodeJS.ProcessEnv & { CONTROL_BIND: string } = {
    ...process.env, REDIS_URL: server.url, LOG_LEVEL: 'warn', FEED_ENDPOINTS: feedEndpoint,
    INGEST_BIND: `tcp://127.0.0.1:${ingestPort}`, CONTROL_BIND: `tcp://127.0.0.1:${controlPort}`,
  };
  const historySize = opts.historySize ?? Number(schema.historySize.default);
  env.HISTORY_SIZE = String(historySize);
  const profArgs = [...(opts.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`] : []), ...(process.env.INGESTER_NODE_ARGS?.split(' ').filter(Boolean) ?? [])];
  const pubr = await startPublisher(feedEndpoint);
  const ingester = spawn(process.execPath, [...profArgs, '--import', TSX_LOADER, MAIN, 'ingester'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  const counter = opts.subscribeAll ? subscribeAll(env.INGEST_BIND!) : undefined;
  const status = async () => JSON.parse(await controlRequest(env.CONTROL_BIND, JSON.stringify({ cmd: 'status' }), 5_000)) as { ticks_in: number; ticks_out: number };
  const historyTop = async () => {
    const p = redis.pipeline();
    for (const inst of makeInstruments(TOKENS, () => 0.5)) p.xrevrange(Keys.history(inst.token), '+', '-', 'COUNT', 1);
    let sum = 0;
    for (const [, r] of (await p.exec()) ?? []) {
      const top = (r as [string, string[]][])[0];
      if (top) sum += Number(top[0].split('-')[0]);
    }
    return sum;
  };
  const steps: IngestOnlyStep[] = [];
  let ticksOut = 0;
  let relay: RelayResult | undefined;
  try {
    try {
      for (let i = 0; ; i++) {
        try { await status(); break; } catch { if (i > 60) throw new Error('the ingester did not start'); await sleep(500); }
      }
      for (const rate of rates) {
        pubr.setRate(rate);
        await sleep(warmS * 1_000);
        const sample = async () => ({
          t: performance.now(), st: await status(), got: counter?.received() ?? 0, pub: await pubr.report(), ing: cpuSeconds(ingester.pid!),
          pubCpu: cpuSeconds(pubr.child.pid!), redis: redisCpu(await redis.info('cpu')),
        });
        const a = await sample();
        await sleep(durationS * 1_000);
        const b = await sample();
        const secs = (b.t - a.t) / 1_000;
        const out = b.st.ticks_out - a.st.ticks_out;
        const historyLag = historySize > 0 ? b.st.ticks_out - (await historyTop()) : 0;
        const s: IngestOnlyStep = {
          offeredPerS: rate,
          publishedPerS: Math.round((b.pub - a.pub) / secs),
          ticksInPerS: Math.round((b.st.ticks_in - a.st.ticks_in) / secs),
          ticksOutPerS: Math.round(out / secs),
          ingesterCores: +((b.ing - a.ing) / secs).toFixed(3),
          ingesterUsPerTick: +(((b.ing - a.ing) / out) * 1e6).toFixed(2),
          publisherCores: +((b.pubCpu - a.pubCpu) / secs).toFixed(3),
          redisCores: +((b.redis - a.redis) / secs).toFixed(3),
          redisUsPerTick: +(((b.redis - a.redis) / out) * 1e6).toFixed(2),
          receivedPerS: Math.round((b.got - a.got) / secs),
          historyLag,
          keptUp: false,
        };
        s.keptUp = s.ticksOutPerS >= KEEP_UP_RATIO * s.publishedPerS && s.publishedPerS >= KEEP_UP_RATIO * rate && historyLag < rate;
        steps.push(s);
        if (!s.keptUp) break;
      }
      ticksOut = (await status()).ticks_out;
    } finally {
      counter?.close();
      ingester.kill('SIGTERM');
      await new Promise((r) => ingester.once('exit', r));
    }
    // The same rates, stopping where the relay itself stops keeping up (it may go further).
    if (opts.baseline !== false && steps.length > 0) relay = await runRelay(pubr, feedEndpoint, rates, { durationS, warmS, subscribeAll: opts.subscribeAll === true });
  } finally {
    pubr.child.send({ stop: true });
    // Gone before this returns (a caller counting child processes must not find it).
    if (pubr.child.exitCode === null && await Promise.race([new Promise((r) => pubr.child.once('exit', () => r(true))), sleep(5_000)]) !== true) pubr.child.kill('SIGKILL');
    redis.disconnect();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const kept = steps.filter((s) => s.keptUp);
  const at10k = steps.find((s) => s.offeredPerS === 10_000);
  return {
    tokens: TOKENS, historySize, durationS, steps, ticksOut, loadAverage: os.loadavg().map((l) => +l.toFixed(2)),
    at10k, relay,
    ratioToRelayAt10k: at10k && relay?.at10k ? +(at10k.ingesterUsPerTick / relay.at10k.relayUsPerTick).toFixed(2) : undefined,
    perCoreAt10kCostPerS: at10k ? Math.round(1e6 / at10k.ingesterUsPerTick) : undefined,
    maxSustainedPerS: kept.length ? Math.max(...kept.map((s) => s.offeredPerS)) : 0,
  };
}

/** A raw SUB on every token topic of `endpoint`, counting what it receives. */
function subscribeAll(endpoint: string): { received(): number; close(): void } {
  const sub = new zmq.Subscriber({ receiveHighWaterMark: 1_000_000 });
  let received = 0;
  sub.connect(endpoint);
  sub.subscribe(Buffer.from([TOKEN_TOPIC_PREFIX]));
  void (async () => {
    try {
      for await (const _ of sub) received++;
    } catch { /* closed */ }
  })();
  return { received: () => received, close: () => sub.close() };
}

/** The bare relay (bare-relay.ts) on the publisher's feed, stepped through `rates` like the ingester. */
async function runRelay(pubr: Publisher, feedEndpoint: string, rates: number[], o: { durationS: number; warmS: number; subscribeAll: boolean }): Promise<RelayResult> {
  pubr.setRate(0);
  const bind = `tcp://127.0.0.1:${await freePort()}`;
  const child = fork(BARE_RELAY, [feedEndpoint, bind], { execArgv: ['--import', TSX_LOADER], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<never>((_, reject) => child.once('exit', (c) => reject(new Error(`bare relay exited (${c})`))));
  exited.catch(() => undefined);
  const reply = <T>(): Promise<T> => Promise.race([new Promise<T>((resolve) => child.once('message', (m) => resolve(m as T))), exited]);
  const counter = o.subscribeAll ? subscribeAll(bind) : undefined;
  const steps: RelayStep[] = [];
  try {
    await reply<{ bound: true }>();
    const report = () => {
      const r = reply<{ received: number; sent: number }>();
      child.send({ report: true });
      return r;
    };
    for (const rate of rates) {
      pubr.setRate(rate);
      await sleep(o.warmS * 1_000);
      const sample = async () => ({ t: performance.now(), r: await report(), pub: await pubr.report(), cpu: cpuSeconds(child.pid!) });
      const a = await sample();
      await sleep(o.durationS * 1_000);
      const b = await sample();
      const secs = (b.t - a.t) / 1_000;
      const received = b.r.received - a.r.received;
      const s: RelayStep = {
        offeredPerS: rate,
        publishedPerS: Math.round((b.pub - a.pub) / secs),
        receivedPerS: Math.round(received / secs),
        sentPerS: Math.round((b.r.sent - a.r.sent) / secs),
        relayCores: +((b.cpu - a.cpu) / secs).toFixed(3),
        relayUsPerTick: +(((b.cpu - a.cpu) / received) * 1e6).toFixed(2),
        keptUp: false,
      };
      s.keptUp = s.receivedPerS >= KEEP_UP_RATIO * s.publishedPerS && s.publishedPerS >= KEEP_UP_RATIO * rate
        && (!o.subscribeAll || s.sentPerS >= KEEP_UP_RATIO * s.receivedPerS);
      steps.push(s);
      if (!s.keptUp) break;
    }
  } finally {
    pubr.setRate(0);
    counter?.close();
    child.send({ stop: true });
    await Promise.race([exited.catch(() => undefined), sleep(5_000)]);
    child.kill('SIGKILL');
  }
  const kept = steps.filter((s) => s.keptUp);
  return { steps, at10k: steps.find((s) => s.offeredPerS === 10_000), maxSustainedPerS: kept.length ? Math.max(...kept.map((s) => s.offeredPerS)) : 0 };
}

/** Top functions by self time in a .cpuprofile, in µs per tick. */
function summariseProfile(file: string, ticks: number): string[] {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[]; samples: number[]; timeDeltas: number[];
  };
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  prof.samples.forEach((id, i) => {
    const f = byId.get(id)!.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${path.basename(f.url)}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + (prof.timeDeltas[i] ?? 0));
  });
  return [...self].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, 30)
    .map(([k, us]) => `${(us / ticks).toFixed(2).padStart(8)} µs/tick  ${k}`);
}

async function cli(args: string[]): Promise<void> {
  const arg = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
  const cpuProfDir = arg('--cpu-prof') ? path.resolve(arg('--cpu-prof')!) : undefined;
  const r = await runIngestOnly({
    quick: args.includes('--quick'), cpuProfDir, subscribeAll: args.includes('--subscribe-all'), baseline: !args.includes('--no-baseline'),
    historySize: arg('--history-size') !== undefined ? Number(arg('--history-size')) : undefined,
    rates: arg('--rates')?.split(',').map(Number), durationS: arg('--seconds') ? Number(arg('--seconds')) : undefined,
  });
  const cols = ['offeredPerS', 'ticksOutPerS', 'receivedPerS', 'ingesterCores', 'ingesterUsPerTick', 'publisherCores', 'redisCores', 'redisUsPerTick', 'historyLag', 'keptUp'] as const;
  console.log(cols.map((c) => c.padStart(17)).join(''));
  for (const s of r.steps) console.log(cols.map((c) => String(s[c]).padStart(17)).join(''));
  console.log(`max sustained: ${r.maxSustainedPerS} ticks/s; µs/tick at 10k: ${r.at10k?.ingesterUsPerTick ?? '-'} (one core: ${r.perCoreAt10kCostPerS ?? '-'} ticks/s at that cost); load average ${r.loadAverage.join(' ')}`);
  if (r.relay) {
    const rcols = ['offeredPerS', 'receivedPerS', 'sentPerS', 'relayCores', 'relayUsPerTick', 'keptUp'] as const;
    console.log(`bare zeromq.js relay, same feed and rates:\n${rcols.map((c) => c.padStart(17)).join('')}`);
    for (const s of r.relay.steps) console.log(rcols.map((c) => String(s[c]).padStart(17)).join(''));
    console.log(`relay max sustained: ${r.relay.maxSustainedPerS} ticks/s; ingester/relay µs per tick at 10k: ${r.ratioToRelayAt10k ?? '-'}×`);
  }
  if (cpuProfDir) {
    const file = fs.readdirSync(cpuProfDir).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(cpuProfDir, f))
      .sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0]; // the main thread's (tsx's loader thread has its own)
    if (file) console.log(`profile ${file} (${r.ticksOut} ticks):\n${summariseProfile(file, r.ticksOut).join('\n')}`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === SELF) {
  if (process.argv.includes('--publisher')) void publisherMain();
  else await cli(process.argv.slice(2));
}
