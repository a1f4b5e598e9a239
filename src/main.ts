/**
 * `tickgate <role>`: picks a role and runs it until SIGINT/SIGTERM, then shuts it down cleanly.
 * Configuration errors and missing prerequisites end the process with one readable line.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, load, readConfigFiles, type Config } from '../config/index.ts';
import { resolveJwtSecret } from './auth/secret.ts';
import { runCtl } from './ctl/ctl.ts';
import { runTap } from './ctl/tap.ts';
import { Simulator } from './feed/simulator.ts';
import { startGateway } from './gateway/gateway.ts';
import { tuneGatewayHeap } from './gateway/heap.ts';
import { tuneIngesterHeap } from './ingester/heap.ts';
import { Ingester } from './ingester/ingester.ts';
import { ingesterMetrics } from './ingester/ingester-metrics.ts';
import { MetricsPublisher } from './metrics/snapshots.ts';
import { createLogger } from './log.ts';
import { RedisNotInstalledError } from './start/embedded-redis.ts';
import { runStart, STANDBY_ACTIVATE, STANDBY_ENV, SUPERVISOR_PID_ENV } from './start/supervisor.ts';
import { refuseOpenBinds } from './zmq/curve.ts';
import { connectRedis, waitReady } from './store/redis.ts';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = (config: Config) => path.resolve(PROJECT_ROOT, config.dataDir);

const ROLES: Record<string, { about: string; run: (config: Config) => Promise<() => Promise<void>> }> = {
  start: { about: 'everything on one machine: redis (embedded), feed simulator, ingester, gateway workers', run: startAll },
  feed: { about: 'the random-walk market-data simulator (ZeroMQ PUB at FEED_BIND)', run: runFeed },
  ingester: { about: 'feed SUB → validate → seq → XPUB at INGEST_BIND', run: runIngester },
  gateway: { about: 'one gateway worker: HTTP API and WebSocket on HOST:PORT', run: runGateway },
};

async function startAll(config: Config): Promise<() => Promise<void>> {
  // Each worker would bind its own free port, so clients could not find them behind one URL.
  if (config.port === 0) throw new ConfigError(['PORT: `tickgate start` needs a fixed port its workers can share (0 works for `tickgate gateway` alone)']);
  return runStart(config, dataDir(config));
}

/** Roles that do one thing and exit with their own status instead of running until a signal. */
const ONE_SHOT_ROLES: Record<string, { about: string; run: (config: Config, args: string[]) => Promise<number> }> = {
  ctl: { about: 'control the ingester: pause, resume, status, demand, notify, announce, disconnect, tap, keygen', run: (c, args) => (args[0] === 'tap' ? runTap(args.slice(1), c.ingestBind, undefined, c.zmqCurveDir) : runCtl(args, c.controlBind, undefined, c.zmqCurveDir)) },
  client: { about: 'register, login, logout, watch live ticks in a terminal table (or --json)', run: async (_c, args) => (await import('./client-cli/cli.ts')).runClientCli(args) },
  // Loaded only when asked for: the other roles need none of the bench's code.
  bench: { about: 'run the benchmark scenarios, print a table, write bench/results/<date>.json', run: async (_c, args) => (await import('./bench/cli.ts')).runBenchCli(args) },
};

function usage(): string {
  const lines = [...Object.entries(ROLES), ...Object.entries(ONE_SHOT_ROLES)].map(([r, { about }]) => `  ${r.padEnd(10)} ${about}`);
  return `usage: tickgate <role>\n\nroles:\n${lines.join('\n')}\n\nConfiguration comes from environment variables (see README).`;
}

async function runFeed(config: Config) {
  const log = createLogger(config.logLevel, 'feed');
  const sim = await Simulator.start({ bind: config.feedBind, tokens: config.simTokens, ratePerSec: config.simRate }, log);
  return async () => sim.close();
}

function requireRedisUrl(config: Config, role: string): string {
  if (!config.redisUrl) throw new ConfigError([`REDIS_URL: required for \`tickgate ${role}\` (\`tickgate start\` runs an embedded Redis)`]);
  return config.redisUrl;
}

async function runIngester(config: Config) {
  refuseOpenBinds(config); // before anything connects: a refused start leaves nothing behind
  const log = createLogger(config.logLevel, 'ingester');
  tuneIngesterHeap();
  const redis = connectRedis(requireRedisUrl(config, 'ingester'), log, 'ingester');
  await waitReady(redis, 15_000);
  const ing = await Ingester.start(config, redis, log);
  const metrics = ingesterMetrics(ing);
  const publisher = new MetricsPublisher(redis, metrics.registry, 'ingester', log);
  publisher.start();
  return async () => {
    publisher.stop();
    await ing.close();
    await publisher.publish();
    metrics.stop();
    await redis.quit().catch(() => redis.disconnect());
  };
}

async function runGateway(config: Config) {
  const log = createLogger(config.logLevel, 'gateway');
  requireRedisUrl(config, 'gateway');
  tuneGatewayHeap(config.gatewayHeap);
  const gw = await startGateway(config, resolveJwtSecret(config, dataDir(config)), log);
  return () => gw.close();
}

async function main(argv: string[]): Promise<number> {
  const role = argv[0];
  if (!role || role === '--help' || role === '-h' || role === 'help') {
    console.log(usage());
    return role ? 0 : 2;
  }
  const entry = ROLES[role];
  const oneShot = ONE_SHOT_ROLES[role];
  if (!entry && !oneShot) {
    console.error(`tickgate: unknown role "${role}"\n\n${usage()}`);
    return 2;
  }
  let config: Config;
  try {
    config = load(process.env, readConfigFiles(), role);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`tickgate ${role}: ${err.message}`);
      return 2;
    }
    throw err;
  }
  if (!entry) return oneShot!.run(config, argv.slice(1));
  // A standby started ahead of need by `tickgate start`: its code is loaded, and it begins its
  // role the moment the supervisor says so (a replacement worker then listens at once).
  if (process.env[STANDBY_ENV] === '1' && process.send) {
    process.once('disconnect', () => process.exit(0)); // the supervisor is gone
    await new Promise<void>((resolve) => process.on('message', (m) => m === STANDBY_ACTIVATE && resolve()));
    process.removeAllListeners('disconnect');
    process.disconnect();
  }
  // The signal handlers go in before the role starts: a SIGTERM that came while it was starting
  // (binding, waiting for Redis) used to meet Node's default action and kill the process with
  // nothing flushed; now it is remembered and the role stops cleanly as soon as it has started.
  let early: NodeJS.Signals | undefined;
  let onSignal = (sig: NodeJS.Signals): void => void (early ??= sig);
  process.on('SIGINT', (sig) => onSignal(sig));
  process.on('SIGTERM', (sig) => onSignal(sig));
  let stop: () => Promise<void>;
  try {
    stop = await entry.run(config);
  } catch (err) {
    if (err instanceof RedisNotInstalledError || err instanceof ConfigError) {
      console.error(`tickgate ${role}: ${err.message}`);
      return 2;
    }
    console.error(`tickgate ${role}: failed to start: ${(err as Error).message}`);
    return 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    onSignal = (sig) => {
      if (stopping) return;
      stopping = true;
      stop().then(
        () => resolve(0),
        (err: unknown) => {
          console.error(`tickgate ${role}: error while stopping after ${sig}: ${(err as Error).message}`);
          resolve(1);
        },
      );
    };
    if (early) onSignal(early);
    // A child of `tickgate start` leads its own process group, so nothing reaches it if the
    // supervisor is killed outright: it notices being orphaned and stops itself.
    const supervisor = Number(process.env[SUPERVISOR_PID_ENV]);
    if (supervisor > 0) setInterval(() => process.ppid !== supervisor && onSignal('SIGTERM'), 1_000).unref();
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
