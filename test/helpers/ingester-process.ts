/**
 * A tickgate whose ingester is a real child process (`tickgate ingester`), so a test can crash it
 * (SIGKILL), stop it cleanly (SIGTERM) or freeze it (SIGSTOP / SIGCONT). Its own redis-server,
 * ipc:// endpoints under a temp dir, a gateway in the test process, and a counting feed the test
 * drives. Everything is torn down by `t.after`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { load, type Config } from '../../config/index.ts';
import { startGateway, type Gateway } from '../../src/gateway/gateway.ts';
import { createLogger } from '../../src/log.ts';
import { startCountingFeed } from './control.ts';
import { startTestRedis } from './redis.ts';
import { httpRequest, lifo, TEST_JWT_SECRET } from './system.ts';
import { until, withTimeout } from './wait.ts';
import { TestClient } from './ws-client.ts';

const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'main.ts');
const TSX_LOADER = import.meta.resolve('tsx');

type After = { after: (fn: () => unknown) => void };

export interface IngesterProcess {
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr (for assertion messages). */
  output(): string;
  /** Resolves with the signal or exit code it ended with. */
  exited: Promise<NodeJS.Signals | number | null>;
  signal(sig: NodeJS.Signals): void;
}

export interface ProcessSystem {
  config: Config;
  gateway: Gateway;
  feed: Awaited<ReturnType<typeof startCountingFeed>>;
  /** The running ingester process (the newest one started). */
  ingester: IngesterProcess;
  /** Starts a new ingester process and waits until the feed sees it subscribe. */
  startIngester(): Promise<IngesterProcess>;
  /** Sends `sig` and waits for the process to end. */
  stopIngester(sig: 'SIGKILL' | 'SIGTERM'): Promise<NodeJS.Signals | number | null>;
  http(method: string, p: string): Promise<{ status: number; body: any }>;
  /** A fresh user, logged in, with a socket on the gateway (welcome consumed). */
  client(): Promise<TestClient>;
}

let userSeq = 0;

export async function startProcessSystem(outer: After, env: Record<string, string> = {}): Promise<ProcessSystem> {
  const t = lifo(outer);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickgate-proc-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const redisServer = await startTestRedis(t);
  const feedEndpoint = `ipc://${dir}/feed.sock`;
  const roleEnv: Record<string, string> = {
    REDIS_URL: redisServer.url,
    FEED_ENDPOINTS: feedEndpoint,
    INGEST_BIND: `ipc://${dir}/ingest.sock`,
    CONTROL_BIND: `ipc://${dir}/control.sock`,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    // A stopping gateway drains its sockets over this window (10 s by default).
    DRAIN_MS: '1000',
    ...env,
  };
  const config = load({ REGISTER_LIMIT_PER_MIN: '100000', ...roleEnv, JWT_SECRET: TEST_JWT_SECRET, HOST: '127.0.0.1', PORT: '0' });
  const log = createLogger(config.logLevel, 'test');

  const spawnIngester = (): IngesterProcess => {
    const child = spawn(process.execPath, ['--import', TSX_LOADER, MAIN, 'ingester'], {
      env: { ...process.env, ...roleEnv }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (b) => (out += b));
    child.stderr!.on('data', (b) => (out += b));
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, sig) => resolve(sig ?? code)));
    t.after(async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGCONT'); // a frozen process cannot act on SIGKILL's exit otherwise reported late
      child.kill('SIGKILL');
      await withTimeout(exited, 5_000, 'the ingester process to end');
    });
    return { child, exited, output: () => out, signal: (sig) => child.kill(sig) };
  };

  let ingester = spawnIngester();
  const feed = await startCountingFeed(t, feedEndpoint);
  const gateway = await startGateway(config, TEST_JWT_SECRET, log);
  t.after(() => gateway.close());
  await until('gateway ready', () => gateway.ctx.redis.status === 'ready' && gateway.ctx.bus.ready && gateway.ctx.link.up, 20_000);

  const request = async (method: string, p: string, body?: unknown) => {
    const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
    const r = await httpRequest(gateway.port, method, p, headers, body === undefined ? undefined : JSON.stringify(body));
    return { status: r.status, body: r.text ? JSON.parse(r.text) : undefined };
  };

  const sys: ProcessSystem = {
    config, gateway, feed,
    get ingester() { return ingester; },
    async startIngester() {
      const before = feed.subscribes;
      ingester = spawnIngester();
      await until('the new ingester to subscribe to the feed', () => feed.subscribes > before || ingester.child.exitCode !== null, 20_000);
      if (ingester.child.exitCode !== null) throw new Error(`ingester exited: ${ingester.output()}`);
      return ingester;
    },
    async stopIngester(sig) {
      ingester.signal(sig);
      return withTimeout(ingester.exited, 10_000, `the ingester to end after ${sig}`);
    },
    http: (method, p) => request(method, p),
    async client() {
      const username = `proc_${process.pid}_${++userSeq}`;
      const password = 'correct-horse-battery';
      const reg = await request('POST', '/api/auth/register', { username, password });
      if (reg.status !== 201) throw new Error(`register: ${reg.status}`);
      const login = await request('POST', '/api/auth/login', { username, password });
      const c = await TestClient.connect(`ws://127.0.0.1:${gateway.port}/ws?access_token=${login.body.access_token}`);
      t.after(() => c.ws.terminate());
      await c.nextOfType('welcome');
      return c;
    },
  };
  return sys;
}

/**
 * A feed that keeps ticking the given tokens, round-robin, `perTick` messages every `everyMs`,
 * each with a value never used before (so a value names one feed message). `stop()` ends it.
 */
export function pumpFeed(feed: { tick(token: number, value?: number): Promise<number> }, tokens: number[], everyMs = 5, perTick = 1) {
  let stopped = false;
  let i = 0;
  let sent = 0;
  const timer = setInterval(() => {
    if (stopped) return;
    for (let k = 0; k < perTick; k++) {
      void feed.tick(tokens[i++ % tokens.length]!);
      sent++;
    }
  }, everyMs);
  return {
    get sent() { return sent; },
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
