/**
 * The system under test for one scenario: a private redis-server, then the ingester and one gateway
 * worker as child processes started the way `tickgate start` starts them (node + tsx loader +
 * main.ts <role>), so their CPU and memory can be read from /proc apart from the clients'. All
 * endpoints are free loopback ports. Limits that would refuse a benchmark's many sockets per user
 * and connections per IP are raised through the environment.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { gatewayNodeFlags } from '../gateway/heap.ts';
import { withMallocArenas } from '../start/malloc-arenas.ts';
import { freePort, startEmbeddedRedis, type EmbeddedRedis } from '../start/embedded-redis.ts';

const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'main.ts');
const TSX_LOADER = import.meta.resolve('tsx');
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
const LOG_TAIL_LINES = 20;
const HTTP_TIMEOUT_MS = 15_000;
/** Logins run a few at a time: each costs a bcrypt verification on the gateway's thread pool. */
const LOGIN_CONCURRENCY = 4;
/** Sockets per user: several share a login, as one user's devices would (MAX_SOCKETS_PER_USER is raised). */
export const CONNECTIONS_PER_USER = 1_000;
const BENCH_PASSWORD = 'bench-password-0123';

/**
 * Every child ever started, so a bench that dies unexpectedly still takes its children with it
 * (a synchronous SIGKILL in the process `exit` handler).
 */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export interface RoleProcess {
  /** Stops it: SIGTERM, SIGKILL after a few seconds. Never throws. */
  stop(): Promise<void>;
  name: string;
  pid: number;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<string>;
  /** How many lines it logged (LOG_LEVEL=warn: warnings and errors only). */
  logLines(): number;
  logTail(): string[];
  running(): boolean;
}

function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
}

function spawnRole(name: string, env: NodeJS.ProcessEnv): RoleProcess {
  return spawnScript(name, [MAIN, name], env, undefined, name === 'gateway' ? gatewayNodeFlags(env.GATEWAY_HEAP === 'compact' ? 'compact' : 'throughput') : []);
}

/**
 * Any TypeScript script as a child process (node + tsx loader) with its output kept as a log
 * tail; `onLine` sees every stdout/stderr line (the bare baseline announces its port that way).
 */
export function spawnScript(name: string, args: string[], env: NodeJS.ProcessEnv, onLine?: (line: string) => void, nodeFlags: readonly string[] = []): RoleProcess {
  const proc = spawn(process.execPath, [...nodeFlags, '--import', TSX_LOADER, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  track(proc);
  const tail: string[] = [];
  let lines = 0;
  let partial = '';
  const onData = (b: Buffer) => {
    const parts = (partial + b.toString('utf8')).split('\n');
    partial = parts.pop()!;
    for (const line of parts) {
      if (line.trim() === '') continue;
      lines++;
      onLine?.(line);
      tail.push(line);
      if (tail.length > LOG_TAIL_LINES) tail.shift();
    }
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<string>((resolve) => proc.once('exit', (code, signal) => resolve(signal ?? String(code))));
  if (proc.pid === undefined) throw new Error(`could not start the ${name} process`);
  const r: RoleProcess = {
    name,
    pid: proc.pid,
    exited,
    stop: () => stopRole(r).catch(() => {}),
    logLines: () => lines,
    logTail: () => [...tail, ...(partial ? [partial] : [])],
    running: () => proc.exitCode === null && proc.signalCode === null,
  };
  return r;
}

async function stopRole(r: RoleProcess): Promise<void> {
  if (!r.running()) return;
  process.kill(r.pid, 'SIGTERM');
  const killed = setTimeout(() => {
    if (r.running()) process.kill(r.pid, 'SIGKILL');
  }, STOP_TIMEOUT_MS);
  await r.exited;
  clearTimeout(killed);
}

export interface Servers {
  redis: EmbeddedRedis;
  ingester: RoleProcess;
  gateway: RoleProcess;
  baseUrl: string;
  wsUrl: string;
  /** Rejects when the ingester or gateway exits before `stop()`. */
  died: Promise<never>;
  /** Registers and logs in `count` users; resolves with one access token per user. */
  login(count: number, signal?: AbortSignal): Promise<string[]>;
  /** Metrics text from the gateway's GET /metrics (contract §5). */
  metrics(): Promise<string>;
  /** Gateway first (it holds the clients), then the ingester, then Redis. Never throws. */
  stop(): Promise<void>;
}

export interface ServersOptions {
  dir: string;
  /** The bench's feed publisher, already bound. */
  feedEndpoint: string;
  signal?: AbortSignal;
  /** More settings for both roles (e.g. SLOW_CLOSE_MS for the stalled-readers scenario). */
  env?: Record<string, string>;
}

export async function startServers(opts: ServersOptions): Promise<Servers> {
  const redis = await startEmbeddedRedis(path.join(opts.dir, 'redis'));
  track(redis.child);
  const [port, ingestPort, controlPort] = [await freePort(), await freePort(), await freePort()];
  // As `tickgate start` runs them (malloc-arenas.ts), so the bench measures what ships.
  const env: NodeJS.ProcessEnv = withMallocArenas({
    ...process.env,
    REDIS_URL: redis.url,
    JWT_SECRET: randomBytes(36).toString('base64url'),
    HOST: '127.0.0.1',
    PORT: String(port),
    FEED_ENDPOINTS: opts.feedEndpoint,
    INGEST_BIND: `tcp://127.0.0.1:${ingestPort}`,
    CONTROL_BIND: `tcp://127.0.0.1:${controlPort}`,
    DATA_DIR: opts.dir,
    LOG_LEVEL: 'warn',
    // A benchmark opens thousands of sockets for a handful of users, from one IP.
    MAX_SOCKETS_PER_USER: '100000',
    CONN_RATE_PER_IP: '10000000',
    LOGIN_LIMIT_PER_MIN: '1000000,1000000',
    REGISTER_LIMIT_PER_MIN: '1000000',
    MAX_CONNS_PER_IP: '10000000',
    MAX_CONNS: '10000000',
    DRAIN_MS: '1000',
    ...opts.env,
  });
  const ingester = spawnRole('ingester', env);
  const gateway = spawnRole('gateway', env);
  let stopping = false;
  const died = Promise.race([ingester, gateway].map(async (r) => {
    const code = await r.exited;
    if (stopping) return new Promise<never>(() => {});
    throw new Error(`the ${r.name} exited unexpectedly (${code}); its last log lines:\n${r.logTail().join('\n')}`);
  }));
  died.catch(() => {}); // observed by callers that race it; never an unhandled rejection

  const baseUrl = `http://127.0.0.1:${port}`;
  const servers: Servers = {
    redis, ingester, gateway, baseUrl, wsUrl: `ws://127.0.0.1:${port}/ws`, died,
    login: (count, signal) => loginUsers(baseUrl, count, signal),
    async metrics() {
      const r = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
      if (r.status !== 200) throw new Error(`GET /metrics: HTTP ${r.status}`);
      return r.text();
    },
    async stop() {
      stopping = true;
      await gateway.stop();
      await ingester.stop();
      await redis.stop().catch(() => {});
    },
  };
  try {
    await Promise.race([untilReady(baseUrl, opts.signal), died]);
  } catch (err) {
    await servers.stop();
    throw err;
  }
  return servers;
}

/** Polls /readyz (Redis and the ingester link up) until 200, within READY_TIMEOUT_MS. */
async function untilReady(baseUrl: string, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    try {
      const r = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(1_000) });
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100, undefined, { signal });
  }
  throw new Error(`the gateway at ${baseUrl} was not ready within ${READY_TIMEOUT_MS} ms`);
}

async function postJson(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const r = await fetch(url, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
  });
  const text = await r.text();
  try {
    return { status: r.status, body: text ? JSON.parse(text) : undefined };
  } catch {
    return { status: r.status, body: text };
  }
}

async function loginUsers(baseUrl: string, count: number, signal?: AbortSignal): Promise<string[]> {
  const tokens: string[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      signal?.throwIfAborted();
      const i = next++;
      const creds = { username: `bench_${i}`, password: BENCH_PASSWORD };
      const reg = await postJson(`${baseUrl}/api/auth/register`, creds);
      if (reg.status !== 201) throw new Error(`register ${creds.username}: HTTP ${reg.status} ${JSON.stringify(reg.body)}`);
      const login = await postJson(`${baseUrl}/api/auth/login`, creds);
      if (login.status !== 200 || typeof login.body?.access_token !== 'string') {
        throw new Error(`login ${creds.username}: HTTP ${login.status} ${JSON.stringify(login.body)}`);
      }
      tokens[i] = login.body.access_token;
    }
  };
  await Promise.all(Array.from({ length: Math.min(LOGIN_CONCURRENCY, count) }, worker));
  return tokens;
}
