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
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../config/index.ts';
import { resolveJwtSecret } from '../auth/secret.ts';
import { startEmbeddedRedis } from './embedded-redis.ts';
import { SupervisedChild, type ChildSpec, type RestartReport } from './supervised-child.ts';

const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'main.ts');
const TSX_LOADER = import.meta.resolve('tsx');
const CHILD_STOP_TIMEOUT_MS = 15_000;
/** Tells a child who supervises it, so it can stop itself if the supervisor vanishes (SIGKILL). */
export const SUPERVISOR_PID_ENV = 'TICKGATE_SUPERVISOR_PID';

function say(line: string): void {
  process.stdout.write(`[tickgate] ${line}\n`);
}

function roleSpec(name: string, role: string, env: NodeJS.ProcessEnv, stopTimeoutMs: number): ChildSpec {
  return {
    name,
    stopTimeoutMs,
    async start() {
      const proc = spawn(process.execPath, ['--import', TSX_LOADER, MAIN, role], {
        env: { ...env, [SUPERVISOR_PID_ENV]: String(process.pid) },
        stdio: ['ignore', 'inherit', 'inherit'],
        detached: true,
      });
      await new Promise<void>((resolve, reject) => {
        proc.once('spawn', resolve);
        proc.once('error', reject);
      });
      return proc;
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

function reportRestart(r: RestartReport): void {
  say(`${r.name} died (${r.reason}); restart #${r.restarts} in ${r.delayMs} ms`);
}

export async function runStart(config: Config, dataDir: string): Promise<() => Promise<void>> {
  const children: SupervisedChild[] = [];
  let redis: SupervisedChild | undefined;
  let stopping = false;

  const stopAll = async () => {
    stopping = true;
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
    const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: redisUrl, JWT_SECRET: resolveJwtSecret(config, dataDir) };

    if (config.feedSimulator) children.push(new SupervisedChild(roleSpec('feed', 'feed', env, CHILD_STOP_TIMEOUT_MS), reportRestart));
    children.push(new SupervisedChild(roleSpec('ingester', 'ingester', env, CHILD_STOP_TIMEOUT_MS), reportRestart));
    // A gateway may take the whole drain window before it exits.
    const gatewayStopMs = config.drainMs + CHILD_STOP_TIMEOUT_MS;
    for (let i = 0; i < config.workers; i++) {
      children.push(new SupervisedChild(roleSpec(`gateway-${i + 1}`, 'gateway', env, gatewayStopMs), reportRestart));
    }
    for (const c of children) await c.start();

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
