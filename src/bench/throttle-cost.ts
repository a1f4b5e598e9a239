/**
 * What throttled delivery costs a gateway worker. Run: `node --import tsx src/bench/throttle-cost.ts`
 * (options: RATE=100 SECONDS=10 THROTTLE_MS=200).
 *
 * A private redis-server, a real `tickgate ingester` and a real `tickgate gateway` child process,
 * the bench feed publisher ticking ONE token at RATE ticks/s. For each run, N sockets (1, then
 * 1,000) subscribe to that token with `throttle_ms`; a last run has 1,000 unthrottled sockets for
 * comparison. The gateway's CPU (from /proc, so the clients' own work is not counted) is measured
 * over SECONDS, with the messages the clients received. Prints one JSON line per run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { FeedPublisher } from './feed-publisher.ts';
import { cpuSeconds } from './proc-stats.ts';
import { freePort, startEmbeddedRedis } from '../start/embedded-redis.ts';

const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'main.ts');
const RATE = Number(process.env.RATE ?? 100);
const SECONDS = Number(process.env.SECONDS ?? 10);
const THROTTLE_MS = Number(process.env.THROTTLE_MS ?? 200);
const SECRET = 'bench-secret-bench-secret-bench-secret-0123';

function role(name: string, env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, ['--import', import.meta.resolve('tsx'), MAIN, name], { env, stdio: ['ignore', 'inherit', 'inherit'] });
}

async function post(base: string, p: string, body: unknown): Promise<any> {
  const r = await fetch(base + p, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return r.json();
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickgate-throttlecost-'));
  const server = await startEmbeddedRedis(dir);
  const [feedPort, ingestPort, controlPort, httpPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const env = {
    ...process.env, REDIS_URL: server.url, JWT_SECRET: SECRET, LOG_LEVEL: 'warn', PORT: String(httpPort),
    FEED_ENDPOINTS: `tcp://127.0.0.1:${feedPort}`, INGEST_BIND: `tcp://127.0.0.1:${ingestPort}`, CONTROL_BIND: `tcp://127.0.0.1:${controlPort}`,
    MAX_SOCKETS_PER_USER: '5000', CONN_RATE_PER_IP: '100000',
  };
  const feed = await FeedPublisher.bind(env.FEED_ENDPOINTS, 1, RATE);
  const ingester = role('ingester', env);
  const gateway = role('gateway', env);
  const base = `http://127.0.0.1:${httpPort}`;
  try {
    for (let i = 0; ; i++) {
      try { if ((await fetch(`${base}/readyz`)).status === 200) break; } catch { /* not listening yet */ }
      if (i > 100) throw new Error('gateway not ready');
      await sleep(200);
    }
    await post(base, '/api/auth/register', { username: 'bench', password: 'bench-password' });
    const { access_token: access } = await post(base, '/api/auth/login', { username: 'bench', password: 'bench-password' });
    feed.start();
    const token = feed.tokens[0]!;
    for (const [n, throttle] of [[1, THROTTLE_MS], [1_000, THROTTLE_MS], [1_000, 0]] as const) {
      let received = 0;
      const sockets = await Promise.all(Array.from({ length: n }, () => new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${httpPort}/ws?access_token=${access}`);
        ws.on('error', reject);
        ws.on('message', (data) => {
          const m = JSON.parse(String(data)) as { type: string };
          if (m.type === 'welcome') ws.send(JSON.stringify({ op: 'subscribe', tokens: [token], mode: 'quote', throttle_ms: throttle, id: 1 }));
          else if (m.type === 'subscribed') resolve(ws);
          else if (m.type === 'tick') received++;
        });
      })));
      await sleep(2_000);
      const c0 = cpuSeconds(gateway.pid!);
      const r0 = received;
      await sleep(SECONDS * 1_000);
      const cpu = cpuSeconds(gateway.pid!) - c0;
      const got = received - r0;
      console.log(JSON.stringify({
        sockets: n, throttle_ms: throttle, ticks_per_s: RATE, gateway_cpu_pct: Math.round((cpu / SECONDS) * 1_000) / 10,
        messages_per_s: Math.round(got / SECONDS), cpu_us_per_message: got ? Math.round((cpu * 1e6) / got * 10) / 10 : null,
      }));
      for (const ws of sockets) ws.terminate();
      await sleep(1_000);
    }
  } finally {
    feed.close();
    gateway.kill('SIGTERM');
    ingester.kill('SIGTERM');
    await sleep(500);
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
