/**
 * `tickgate start`: the whole system on one machine as child processes — an embedded
 * redis-server (unless REDIS_URL is set), the feed simulator, the ingester and WORKERS gateway
 * workers sharing the port. Prints the URL once the gateway is ready.
 *
 * Failures stay local: a child that dies is started again with backoff (100 ms doubling to 10 s,
 * reset after a minute up), each restart logged with its reason and delay, and the others keep
 * running. A restarted Redis reuses its port and data directory. Every child leads its own
 * process group, so Ctrl-C reaches only this process, which stops them in order: the gateways
 * drain, the ingester makes its final write, then the feed, and Redis last.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../config/index.ts';
import client from 'prom-client';
import { resolveJwtSecret } from '../auth/secret.ts';
import { createLogger } from '../log.ts';
import { MetricsPublisher, processGauges } from '../metrics/snapshots.ts';
import { gatewayNodeFlags } from '../gateway/heap.ts';
import { withMallocArenas } from './malloc-arenas.ts';
import { connectRedis } from '../store/redis.ts';
import { startEmbeddedRedis } from './embedded-redis.ts';
import { isRunning, signalGroup, SupervisedChild, type ChildSpec, type RestartReport } from './supervised-child.ts';

const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'main.ts');
const TSX_LOADER = import.meta.resolve('tsx');
const CHILD_STOP_TIMEOUT_MS = 15_000;
/** Tells a child who supervises it, so it can stop itself if the supervisor vanishes (SIGKILL). */
export const SUPERVISOR_PID_ENV = 'TICKGATE_SUPERVISOR_PID';
/** Marks a standby child: loaded, waiting for `STANDBY_ACTIVATE` on its IPC channel to begin its role. */
export const STANDBY_ENV = 'TICKGATE_STANDBY';
export const STANDBY_ACTIVATE = 'activate';

function say(line: string): void {
  process.stdout.write(`[tickgate] ${line}\n`);
}

/** `env` with Node flags added to NODE_OPTIONS (the heap flags of GATEWAY_HEAP=compact). */
function withNodeFlags(env: NodeJS.ProcessEnv, flags: readonly string[]): NodeJS.ProcessEnv {
  if (flags.length === 0) return env;
  return { ...env, NODE_OPTIONS: [env.NODE_OPTIONS, ...flags].filter(Boolean).join(' ') };
}

function spawnRole(role: string, env: NodeJS.ProcessEnv, standby: boolean): Promise<ChildProcess> {
  const proc = spawn(process.execPath, ['--import', TSX_LOADER, MAIN, role], {
    env: { ...env, [SUPERVISOR_PID_ENV]: String(process.pid), ...(standby ? { [STANDBY_ENV]: '1' } : {}) },
    stdio: standby ? ['ignore', 'inherit', 'inherit', 'ipc'] : ['ignore', 'inherit', 'inherit'],
    detached: true,
  });
  return new Promise<ChildProcess>((resolve, reject) => {
    proc.once('spawn', () => resolve(proc));
    proc.once('error', reject);
  });
}

/**
 * One pre-started process of a role (gateway, ingester) with its code loaded, so a crashed child
 * is replaced in the time it takes to connect and bind instead of the second or more a cold
 * Node + TypeScript start takes on a busy machine. Used only for restarts; a new standby is
 * started a second after each use. Costs one idle Node process per role.
 */
class Standby {
  private proc: ChildProcess | undefined;
  private closed = false;

  constructor(private readonly role: string, private readonly env: NodeJS.ProcessEnv) {}

  fill(): void {
    if (this.closed || (this.proc && isRunning(this.proc))) return;
    spawnRole(this.role, this.env, true).then(
      (p) => {
        if (this.closed) signalGroup(p, 'SIGKILL');
        else this.proc = p;
      },
      () => undefined, // a cold start is the fallback
    );
  }

  /** The standby, activated, or undefined when none is ready. */
  take(): ChildProcess | undefined {
    const p = this.proc;
    this.proc = undefined;
    if (!p || !isRunning(p) || !p.connected) return undefined;
    p.send(STANDBY_ACTIVATE); // the child closes the channel once it has it
    setTimeout(() => this.fill(), 1_000).unref(); // after the replacement had the CPU to itself
    return p;
  }

  stop(): void {
    this.closed = true;
    if (this.proc && isRunning(this.proc)) signalGroup(this.proc, 'SIGKILL');
  }
}

function roleSpec(name: string, role: string, env: NodeJS.ProcessEnv, stopTimeoutMs: number, standby?: Standby): ChildSpec {
  let started = false;
  return {
    name,
    stopTimeoutMs,
    async start() {
      const warm = started ? standby?.take() : undefined;
      started = true;
      return warm ?? spawnRole(role, env, false);
    },
  };
}

async function waitForReady(url: string, timeoutMs: number, alive: () => boolean): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && alive()) {
    try {
      const r = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) });
      if (r.status === 200) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/** The supervisor's own metrics: restarts per child and the delay before the latest one. */
const metricsRegistry = new client.Registry();
const restartsTotal = new client.Counter({
  name: 'tickgate_child_restarts_total', help: 'children of `tickgate start` restarted after dying, by child', labelNames: ['child'], registers: [metricsRegistry],
});
const restartDelay = new client.Gauge({
  name: 'tickgate_child_restart_delay_seconds', help: 'backoff before the latest restart of each child', labelNames: ['child'], registers: [metricsRegistry], aggregator: 'max',
});

function reportRestart(r: RestartReport): void {
  say(`${r.name} died (${r.reason}); restart #${r.restarts} in ${r.delayMs} ms`);
  restartsTotal.inc({ child: r.name });
  restartDelay.set({ child: r.name }, r.delayMs / 1000);
}

export async function runStart(config: Config, dataDir: string): Promise<() => Promise<void>> {
  const children: SupervisedChild[] = [];
  let redis: SupervisedChild | undefined;
  let stopping = false;
  let stopMetrics = async () => {};
  const standbys: Standby[] = [];

  const stopAll = async () => {
    stopping = true;
    for (const s of standbys) s.stop();
    await stopMetrics();
    // Gateways first (they hold the clients and drain them), then the ingester (its final write
    // needs Redis), then the feed; Redis last.
    const rank = (n: string) => (n.startsWith('gateway') ? 0 : n === 'ingester' ? 1 : 2);
    for (const r of [0, 1, 2]) await Promise.all(children.filter((c) => rank(c.name) === r).map((c) => c.stop(say)));
    await redis?.stop(say);
  };

  try {
    let redisUrl = config.redisUrl;
    if (!redisUrl) {
      const dir = path.join(dataDir, 'redis');
      let port: number | undefined;
      redis = new SupervisedChild({
        name: 'redis',
        stopTimeoutMs: 5_000,
        async start() {
          // The same port and data directory on every start: clients reconnect to the same URL
          // and find their data (AOF) again.
          const r = await startEmbeddedRedis(dir, { port, detached: true });
          port = r.port;
          return r.child;
        },
      }, reportRestart);
      await redis.start();
      redisUrl = `redis://127.0.0.1:${port}`;
      say(`redis-server started on ${redisUrl} (data in ${dir}, AOF on)`);
    }
    const env: NodeJS.ProcessEnv = withMallocArenas({ ...process.env, REDIS_URL: redisUrl, JWT_SECRET: resolveJwtSecret(config, dataDir) });

    // Restarts show in every worker's /metrics: the supervisor publishes them like a worker does.
    const log = createLogger(config.logLevel, 'supervisor');
    const metricsRedis = connectRedis(redisUrl, log, 'supervisor');
    const stopGauges = processGauges(metricsRegistry, 'supervisor');
    const publisher = new MetricsPublisher(metricsRedis, metricsRegistry, 'supervisor', log);
    publisher.start();
    stopMetrics = async () => {
      stopMetrics = async () => {};
      publisher.stop();
      stopGauges();
      await metricsRedis.quit().catch(() => metricsRedis.disconnect());
    };

    if (config.feedSimulator) children.push(new SupervisedChild(roleSpec('feed', 'feed', env, CHILD_STOP_TIMEOUT_MS), reportRestart));
    const ingesterStandby = new Standby('ingester', env);
    standbys.push(ingesterStandby);
    children.push(new SupervisedChild(roleSpec('ingester', 'ingester', env, CHILD_STOP_TIMEOUT_MS, ingesterStandby), reportRestart));
    // A gateway may take the whole drain window before it exits.
    const gatewayStopMs = config.drainMs + CHILD_STOP_TIMEOUT_MS;
    const gatewayEnv = withNodeFlags(env, gatewayNodeFlags(config.gatewayHeap));
    const standby = new Standby('gateway', gatewayEnv);
    standbys.push(standby);
    for (let i = 0; i < config.workers; i++) {
      children.push(new SupervisedChild(roleSpec(`gateway-${i + 1}`, 'gateway', gatewayEnv, gatewayStopMs, standby), reportRestart));
    }
    for (const c of children) await c.start();
    for (const s of standbys) s.fill();

    const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`;
    const ready = await waitForReady(url, 30_000, () => !stopping);
    if (!ready) throw new Error(`the gateway at ${url} did not become ready within 30 s`);
    say(`ready: ${url}  (${config.workers} gateway worker${config.workers === 1 ? '' : 's'}, feed simulator ${config.feedSimulator ? 'on' : 'off'})`);
    say(`try it: curl -s -X POST ${url}/api/auth/register -H 'content-type: application/json' -d '{"username":"alice","password":"correct-horse"}'`);
    say('then log in at /api/auth/login, open ws' + url.slice(4) + '/ws?access_token=… and send {"op":"subscribe","tokens":[256265]}. Ctrl-C stops everything.');
  } catch (err) {
    await stopAll();
    throw err;
  }

  return async () => {
    say('stopping…');
    await stopAll();
    say('stopped');
  };
}
