/**
 * A whole tickgate in the test process: its own redis-server, ZeroMQ endpoints under a temp dir
 * (ipc://), an ingester and a gateway on port 0. Optionally the simulator; otherwise the test
 * publishes its own feed. Everything is torn down by `t.after`.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import * as zmq from 'zeromq';
import { load, type Config } from '../../config/index.ts';
import { Simulator } from '../../src/feed/simulator.ts';
import { startGateway, type Gateway } from '../../src/gateway/gateway.ts';
import { Ingester } from '../../src/ingester/ingester.ts';
import { createLogger } from '../../src/log.ts';
import type { EmbeddedRedis } from '../../src/start/embedded-redis.ts';
import { connectRedis, waitReady } from '../../src/store/redis.ts';
import { startTestRedis } from './redis.ts';
import { TestClient } from './ws-client.ts';
import { until } from './wait.ts';

export const TEST_JWT_SECRET = 'test-secret-test-secret-test-secret-0123456789';

type After = { after: (fn: () => unknown) => void };

export interface SystemOptions {
  env?: Record<string, string>;
  simulator?: boolean;
  /** Start no gateway (tests that start their own). */
  gateways?: number;
}

export interface System {
  config: Config;
  dir: string;
  redisServer: EmbeddedRedis;
  redis: Redis;
  ingester: Ingester;
  gateways: Gateway[];
  simulator?: Simulator;
  /** The feed endpoint tests may bind their own publisher to (when the simulator is off). */
  feedEndpoint: string;
  baseUrl: string;
  wsUrl: string;
  /** An HTTP request to gateway `gateway` (default the first). */
  http(method: string, path: string, body?: unknown, token?: string, gateway?: number): Promise<{ status: number; body: any; headers: Headers }>;
  /** Registers and logs in a fresh user; returns its tokens. */
  user(name?: string, password?: string): Promise<{ username: string; password: string; access: string; refresh: string }>;
  connect(access: string, gateway?: number): Promise<TestClient>;
  startGateway(): Promise<Gateway>;
}

let userSeq = 0;

/**
 * One HTTP request on a fresh connection (no keep-alive): a pooled idle connection would hold the
 * test process open for seconds after the last test.
 */
export function httpRequest(port: number, method: string, p: string, headers: Record<string, string>, body?: string) {
  return new Promise<{ status: number; text: string; headers: Headers }>((resolve, reject) => {
    // An explicit length: Node sends no body framing for DELETE otherwise.
    const all = body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) };
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers: all, agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
        resolve({ status: res.statusCode!, text: Buffer.concat(chunks).toString('utf8'), headers: h });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${p} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Collects teardown steps and runs them last-in first-out in one `after` hook. */
export function lifo(t: After): After {
  const steps: (() => unknown)[] = [];
  t.after(async () => {
    for (const step of steps.reverse()) {
      try {
        await step();
      } catch (err) {
        console.error('teardown step failed:', err);
      }
    }
  });
  return { after: (fn) => steps.push(fn) };
}

export async function startSystem(outer: After, opts: SystemOptions = {}): Promise<System> {
  const t = lifo(outer);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickgate-test-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const redisServer = await startTestRedis(t);
  const feedEndpoint = `ipc://${dir}/feed.sock`;
  const config = load({
    REDIS_URL: redisServer.url,
    JWT_SECRET: TEST_JWT_SECRET,
    HOST: '127.0.0.1',
    PORT: '0',
    FEED_BIND: feedEndpoint,
    FEED_ENDPOINTS: feedEndpoint,
    INGEST_BIND: `ipc://${dir}/ingest.sock`,
    CONTROL_BIND: `ipc://${dir}/control.sock`,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    SIM_TOKENS: '20',
    SIM_RATE: '400',
    // A stopping gateway drains its sockets over this window (10 s by default).
    DRAIN_MS: '1000',
    // Tests register many users from 127.0.0.1; limits.test.ts and security tests set their own.
    REGISTER_LIMIT_PER_MIN: '100000',
    ...opts.env,
  });
  const log = createLogger(config.logLevel, 'test');
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {}); // tests that stop Redis see the failures through commands
  t.after(() => redis.disconnect());
  const ingRedis = connectRedis(redisServer.url, log, 'ingester');
  await waitReady(ingRedis);
  const ingester = await Ingester.start(config, ingRedis, log);
  t.after(async () => {
    await ingester.close();
    ingRedis.disconnect();
  });
  let simulator: Simulator | undefined;
  if (opts.simulator) {
    simulator = await Simulator.start({ bind: feedEndpoint, tokens: config.simTokens, ratePerSec: config.simRate }, log);
    t.after(() => simulator!.close());
  }
  const gateways: Gateway[] = [];
  const startOne = async () => {
    const gw = await startGateway(config, TEST_JWT_SECRET, log);
    t.after(() => gw.close());
    // Ready = Redis connected, the bus subscribed (cross-worker actions reach it) and an ingester
    // heartbeat seen, so the link's SUB is live.
    await until('gateway ready', () => gw.ctx.redis.status === 'ready' && gw.ctx.bus.ready && gw.ctx.link.up, 10_000);
    gateways.push(gw);
    return gw;
  };
  for (let i = 0; i < (opts.gateways ?? 1); i++) await startOne();

  const baseUrl = () => `http://127.0.0.1:${gateways[0]!.port}`;
  const sys: System = {
    config, dir, redisServer, redis, ingester, gateways, simulator, feedEndpoint,
    get baseUrl() { return baseUrl(); },
    get wsUrl() { return `ws://127.0.0.1:${gateways[0]!.port}/ws`; },
    async http(method, p, body, token, gateway = 0) {
      const headers: Record<string, string> = {};
      if (body !== undefined) headers['content-type'] = 'application/json';
      if (token) headers.authorization = `Bearer ${token}`;
      const r = await httpRequest(gateways[gateway]!.port, method, p, headers, body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body));
      const text = r.text;
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON; keep the text
      }
      return { status: r.status, body: parsed, headers: r.headers };
    },
    async user(name, password = 'correct-horse-battery') {
      const username = name ?? `user_${process.pid}_${++userSeq}`;
      const reg = await sys.http('POST', '/api/auth/register', { username, password });
      if (reg.status !== 201) throw new Error(`register ${username}: ${reg.status} ${JSON.stringify(reg.body)}`);
      const login = await sys.http('POST', '/api/auth/login', { username, password });
      if (login.status !== 200) throw new Error(`login ${username}: ${login.status} ${JSON.stringify(login.body)}`);
      return { username, password, access: login.body.access_token, refresh: login.body.refresh_token };
    },
    async connect(access, gateway = 0) {
      const c = await TestClient.connect(`ws://127.0.0.1:${gateways[gateway]!.port}/ws?access_token=${access}`);
      t.after(() => c.ws.terminate());
      await c.nextOfType('welcome');
      return c;
    },
    startGateway: startOne,
  };
  return sys;
}

/** Resolves once the ingester sees a gateway subscribed to `token` (its XPUB got the subscription). */
export function untilDemand(sys: Pick<System, 'ingester'>, token: number, present = true) {
  return until(`ingester demand for ${token} to be ${present}`, () => sys.ingester.demand.has(token) === present);
}

/**
 * A stand-in exchange adapter: an XPUB bound at the feed endpoint. XPUB rather than PUB so the test
 * can wait until the ingester's subscription is live instead of sleeping (ZeroMQ slow joiner).
 */
export async function startTestFeed(t: After, endpoint: string) {
  const pub = new zmq.XPublisher();
  pub.sendTimeout = 0;
  await pub.bind(endpoint);
  t.after(() => pub.close());
  const [sub] = await pub.receive(); // the ingester's subscribe message (0x01 + empty prefix)
  if (!sub || sub[0] !== 1) throw new Error('expected a subscription message from the ingester');
  return {
    send(frames: (string | Buffer)[] | string) {
      return pub.send(frames);
    },
  };
}
