/**
 * `tickgate start`: the whole system on one machine as child processes — an embedded
 * redis-server (unless REDIS_URL is set), the feed simulator, the ingester and WORKERS gateway
 * workers sharing the port. Prints the URL once the gateway is ready. On SIGINT/SIGTERM it stops
 * the children in dependency order (gateways, ingester, feed, redis) and leaves none behind; if
 * any child dies on its own, it stops the rest and exits non-zero.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../config/index.ts';
import { resolveJwtSecret } from '../auth/secret.ts';
import { startEmbeddedRedis, type EmbeddedRedis } from './embedded-redis.ts';

const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'main.ts');
const TSX_LOADER = import.meta.resolve('tsx');
const CHILD_STOP_TIMEOUT_MS = 15_000;

interface Child { name: string; proc: ChildProcess; exited: Promise<number | null> }

function say(line: string): void {
  process.stdout.write(`[tickgate] ${line}\n`);
}

function spawnRole(name: string, role: string, env: NodeJS.ProcessEnv): Child {
  const proc = spawn(process.execPath, ['--import', TSX_LOADER, MAIN, role], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { name, proc, exited };
}

async function stopChild(c: Child): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  c.proc.kill('SIGTERM');
  const t = setTimeout(() => {
    say(`${c.name} did not stop within ${CHILD_STOP_TIMEOUT_MS} ms; killing it`);
    c.proc.kill('SIGKILL');
  }, CHILD_STOP_TIMEOUT_MS);
  await c.exited;
  clearTimeout(t);
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

export async function runStart(config: Config, dataDir: string): Promise<() => Promise<void>> {
  const children: Child[] = [];
  let redis: EmbeddedRedis | undefined;
  let stopping = false;

  const stopAll = async () => {
    stopping = true;
    // Gateways first (they hold the clients), then the ingester, then the feed.
    const order = (n: string) => (n.startsWith('gateway') ? 0 : n === 'ingester' ? 1 : 2);
    for (const rank of [0, 1, 2]) await Promise.all(children.filter((c) => order(c.name) === rank).map(stopChild));
    await redis?.stop();
  };

  try {
    let redisUrl = config.redisUrl;
    if (!redisUrl) {
      redis = await startEmbeddedRedis(path.join(dataDir, 'redis'));
      redisUrl = redis.url;
      say(`redis-server started on ${redisUrl} (data in ${redis.dir}, AOF on)`);
    }
    const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: redisUrl, JWT_SECRET: resolveJwtSecret(config, dataDir) };

    if (config.feedSimulator) children.push(spawnRole('feed', 'feed', env));
    children.push(spawnRole('ingester', 'ingester', env));
    for (let i = 0; i < config.workers; i++) children.push(spawnRole(`gateway-${i + 1}`, 'gateway', env));

    for (const c of children) {
      void c.exited.then((code) => {
        if (stopping) return;
        say(`${c.name} exited unexpectedly (code ${code}); stopping everything`);
        void stopAll().then(() => process.exit(1));
      });
    }

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
