/**
 * What the history store costs at a given tick rate. Run: `node --import tsx src/bench/history-cost.ts`
 * (options: RATE=10000 TOKENS=50 SECONDS=10 HISTORY_SIZE=1000).
 *
 * For HISTORY_SIZE=0 (no history) and then HISTORY_SIZE=N, on one machine: a private redis-server,
 * a real `tickgate ingester` child process, the bench feed publisher at RATE ticks/s round-robin
 * over TOKENS tokens, and one raw SUB subscribed to every token (so the XPUB really sends). After a
 * warm-up long enough to fill every stream to HISTORY_SIZE, it measures over SECONDS:
 *   - ingester CPU (from /proc) per published tick,
 *   - redis-server CPU (INFO cpu, user + sys delta) per tick,
 *   - Redis memory per token: MEMORY USAGE of each stream, and the used_memory delta over the
 *     empty instance divided by TOKENS.
 * Prints one JSON object per run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import * as zmq from 'zeromq';
import { FeedPublisher } from './feed-publisher.ts';
import { cpuSeconds } from './proc-stats.ts';
import { controlRequest } from '../ctl/request.ts';
import { freePort, startEmbeddedRedis } from '../start/embedded-redis.ts';
import { Keys } from '../store/keys.ts';
import { TOKEN_TOPIC_PREFIX } from '../protocol/topics.ts';

const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'main.ts');
const RATE = Number(process.env.RATE ?? 10_000);
const TOKENS = Number(process.env.TOKENS ?? 50);
const SECONDS = Number(process.env.SECONDS ?? 10);
const SIZE = Number(process.env.HISTORY_SIZE ?? 1_000);

function redisCpu(info: string): number {
  const get = (k: string) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(info)![1]);
  return get('used_cpu_user') + get('used_cpu_sys');
}

async function run(historySize: number) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickgate-histcost-'));
  const server = await startEmbeddedRedis(dir);
  const redis = new Redis(server.url);
  const [feedPort, ingestPort, controlPort] = [await freePort(), await freePort(), await freePort()];
  const env = {
    ...process.env, REDIS_URL: server.url, HISTORY_SIZE: String(historySize), LOG_LEVEL: 'warn',
    FEED_ENDPOINTS: `tcp://127.0.0.1:${feedPort}`, INGEST_BIND: `tcp://127.0.0.1:${ingestPort}`, CONTROL_BIND: `tcp://127.0.0.1:${controlPort}`,
  };
  const baseMemory = Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))![1]);
  const feed = await FeedPublisher.bind(env.FEED_ENDPOINTS, TOKENS, RATE);
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), MAIN, 'ingester'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  const sub = new zmq.Subscriber();
  sub.receiveHighWaterMark = 1_000_000;
  sub.connect(env.INGEST_BIND);
  sub.subscribe(Buffer.from([TOKEN_TOPIC_PREFIX]));
  let received = 0;
  void (async () => {
    try {
      for await (const _ of sub) received++;
    } catch { /* closed */ }
  })();
  const status = async () => JSON.parse(await controlRequest(env.CONTROL_BIND, JSON.stringify({ cmd: 'status' }), 5_000)) as { ticks_out: number };
  try {
    for (let i = 0; ; i++) {
      try { await status(); break; } catch { if (i > 60) throw new Error('ingester did not start'); await sleep(500); }
    }
    feed.start();
    // Fill every stream to its size before measuring (trimming is part of the steady state).
    await sleep(Math.max(3_000, ((historySize * 1.2) / (RATE / TOKENS)) * 1_000));
    const s0 = { pub: feed.published, out: (await status()).ticks_out, ing: cpuSeconds(child.pid!), redis: redisCpu(await redis.info('cpu')), got: received };
    await sleep(SECONDS * 1_000);
    const s1 = { pub: feed.published, out: (await status()).ticks_out, ing: cpuSeconds(child.pid!), redis: redisCpu(await redis.info('cpu')), got: received };
    const ticks = s1.out - s0.out;
    const streamBytes: number[] = [];
    const lengths: number[] = [];
    for (const token of feed.tokens) {
      streamBytes.push(Number(await redis.call('MEMORY', 'USAGE', Keys.history(token), 'SAMPLES', '0')) || 0);
      lengths.push(await redis.xlen(Keys.history(token)));
    }
    const usedMemory = Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))![1]);
    return {
      historySize, rate: RATE, tokens: TOKENS, seconds: SECONDS,
      offeredPerSec: Math.round((s1.pub - s0.pub) / SECONDS),
      ticksPerSec: Math.round(ticks / SECONDS),
      subReceivedPerSec: Math.round((s1.got - s0.got) / SECONDS),
      ingesterCpuCores: +((s1.ing - s0.ing) / SECONDS).toFixed(3),
      ingesterCpuUsPerTick: +(((s1.ing - s0.ing) / ticks) * 1e6).toFixed(2),
      redisCpuCores: +((s1.redis - s0.redis) / SECONDS).toFixed(3),
      redisCpuUsPerTick: +(((s1.redis - s0.redis) / ticks) * 1e6).toFixed(2),
      streamEntriesPerToken: { min: Math.min(...lengths), max: Math.max(...lengths) },
      streamBytesPerToken: Math.round(streamBytes.reduce((a, b) => a + b, 0) / TOKENS),
      redisUsedMemoryDeltaPerTokenBytes: Math.round((usedMemory - baseMemory) / TOKENS),
    };
  } finally {
    feed.close();
    sub.close();
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    redis.disconnect();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

for (const size of [0, SIZE]) console.log(JSON.stringify(await run(size)));
