/**
 * Epoch integrity and the tick meta frame, with real processes and sockets: a raw ZeroMQ SUB on
 * INGEST_BIND sees exactly what gateways see. A clean stop keeps the epoch and seq continues; a
 * `kill -9` of a real `tickgate ingester` process gives a new epoch, with the old history gone.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as zmq from 'zeromq';
import { load, type Config } from '../../config/index.ts';
import { Ingester } from '../../src/ingester/ingester.ts';
import { createLogger } from '../../src/log.ts';
import { epochBytes, epochString, isTickMeta, readTickMetaSeq, splitTickMessage, tickMetaEpochEquals } from '../../src/protocol/tick-meta.ts';
import { tokenTopic } from '../../src/protocol/topics.ts';
import { readHistory } from '../../src/store/history.ts';
import { Keys } from '../../src/store/keys.ts';
import { connectRedis, waitReady } from '../../src/store/redis.ts';
import { startTestRedis } from '../helpers/redis.ts';
import { until, withTimeout } from '../helpers/wait.ts';

const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'main.ts');
const TSX_LOADER = import.meta.resolve('tsx');

const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent', 'test');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickgate-epoch-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const server = await startTestRedis({ after });
const redis = connectRedis(server.url, log, 'epoch-test');
after(() => redis.disconnect());
await waitReady(redis);

const env = {
  REDIS_URL: server.url,
  FEED_ENDPOINTS: `ipc://${dir}/feed.sock`,
  INGEST_BIND: `ipc://${dir}/ingest.sock`,
  CONTROL_BIND: `ipc://${dir}/control.sock`,
  LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
};
const config: Config = load({ ...env, JWT_SECRET: 'x'.repeat(40) });

const feed = new zmq.Publisher();
feed.sendTimeout = 0;
await feed.bind(env.FEED_ENDPOINTS);
after(() => feed.close());
let ltp = 100;
const publishFeed = (token: number) => feed.send([String(token), JSON.stringify({ token, ltp: (ltp += 0.05) })]);

interface Received { frames: Buffer[]; seq: number; json: { seq: number } }

/** A raw SUB on INGEST_BIND for one token, recording every message. */
async function rawSub(token: number): Promise<{ got: Received[]; close: () => void }> {
  const sub = new zmq.Subscriber();
  sub.connect(env.INGEST_BIND);
  sub.subscribe(tokenTopic(token));
  const got: Received[] = [];
  void (async () => {
    try {
      for await (const frames of sub) {
        const tick = splitTickMessage(frames);
        if (!tick) continue; // status events
        got.push({ frames: tick, seq: readTickMetaSeq(tick[1]!), json: JSON.parse(tick[2]!.toString()) });
      }
    } catch {
      // closed
    }
  })();
  return { got, close: () => sub.close() };
}

/** Publishes ticks of `token` every few ms until `done` holds (bounded). */
async function pumpUntil(what: string, token: number, done: () => boolean, timeoutMs = 10_000): Promise<void> {
  await until(what, async () => {
    if (done()) return true;
    await publishFeed(token);
    return false;
  }, timeoutMs, 5);
}

async function startIngester(): Promise<Ingester> {
  const ingRedis = connectRedis(server.url, log, 'ingester');
  await waitReady(ingRedis);
  const ing = await Ingester.start(config, ingRedis, log);
  after(async () => {
    await ing.close();
    ingRedis.disconnect();
  });
  return ing;
}

const historyKeys = async () => (await redis.keys(Keys.historyPattern)).sort();

test('each tick is 5 frames whose meta carries the current epoch and consecutive seqs, matching the JSON', async () => {
  const ing = await startIngester();
  const sub = await rawSub(101);
  try {
    await pumpUntil('30 ticks on the raw SUB', 101, () => sub.got.length >= 30);
    const epoch = epochBytes(ing.epoch);
    for (const [i, r] of sub.got.entries()) {
      assert.equal(r.frames.length, 5);
      assert.ok(isTickMeta(r.frames[1]!));
      assert.ok(tickMetaEpochEquals(r.frames[1]!, epoch), `epoch ${epochString(r.frames[1]!)} vs ${ing.epoch}`);
      assert.equal(r.json.seq, r.seq, 'meta seq = JSON seq');
      if (i > 0) assert.equal(r.seq, sub.got[i - 1]!.seq + 1, 'consecutive');
      for (const f of r.frames.slice(2)) assert.equal(JSON.parse(f.toString()).seq, r.seq);
    }
  } finally {
    sub.close();
    await ing.close();
  }
});

test('a clean stop keeps the epoch: after close() and a new start, the next seq is the last issued + 1', async () => {
  const first = await startIngester();
  const sub = await rawSub(202);
  try {
    await pumpUntil('ticks from the first ingester', 202, () => sub.got.length >= 20);
    await first.close();
    const last = JSON.parse((await redis.hget(Keys.lastTicks, '202'))!).seq as number;
    assert.ok(last >= sub.got.at(-1)!.seq);
    assert.equal(await redis.get(Keys.cleanShutdown), first.epoch, 'clean marker written after the flush');
    const history = await readHistory(redis, 202, 0);
    assert.equal(history.ticks.at(-1)?.seq, last, 'history flushed up to the last seq issued');

    const second = await startIngester();
    assert.equal(second.epoch, first.epoch);
    assert.equal(await redis.get(Keys.cleanShutdown), null, 'the marker is consumed at start');
    const before = sub.got.length;
    // The raw SUB reconnects on its own schedule, so the first ticks of the second ingester may
    // pass before it is back: the history stream shows every seq issued.
    await pumpUntil('a tick from the second ingester', 202, () => sub.got.length > before);
    const received = sub.got[before]!;
    assert.ok(tickMetaEpochEquals(received.frames[1]!, epochBytes(first.epoch)));
    await second.close();
    const after = await readHistory(redis, 202, last);
    assert.equal(after.ticks[0]?.seq, last + 1, 'the first seq issued after the restart is last + 1');
    assert.ok(after.ticks.every((t, i) => t.seq === last + 1 + i), 'consecutive');
    assert.ok(after.ticks.some((t) => t.seq === received.seq && t.ltp === (received.json as unknown as { ltp: number }).ltp));
    assert.equal(second.history!.stats.skipped, 0, 'no seq at or below the stream top was issued again');
  } finally {
    sub.close();
  }
});

test('after kill -9 of a tickgate ingester process the epoch changes, old history is deleted, and the new epoch has its own', { timeout: 60_000 }, async () => {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, MAIN, 'ingester'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b) => (out += b));
  child.stderr.on('data', (b) => (out += b));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const sub = await rawSub(303);
  try {
    await pumpUntil('ticks from the child ingester', 303, () => sub.got.length >= 20, 30_000);
    const oldEpoch = epochString(sub.got[0]!.frames[1]!);
    await until('its history in Redis', async () => (await readHistory(redis, 303, 0)).ticks.length >= 20, 5_000);
    child.kill('SIGKILL');
    assert.equal(await withTimeout(exited, 5_000, 'the child to die'), 'SIGKILL', out);
    assert.equal(await redis.get(Keys.cleanShutdown), null, 'no clean marker after a crash');
    assert.ok((await historyKeys()).includes(Keys.history(303)));

    const ing = await startIngester();
    assert.notEqual(ing.epoch, oldEpoch, 'a new epoch');
    assert.equal(await redis.get(Keys.epoch), ing.epoch);
    assert.deepEqual(await historyKeys(), [], 'every old-epoch stream deleted before publishing');
    const before = sub.got.length;
    await pumpUntil('ticks under the new epoch', 303, () => sub.got.length >= before + 10);
    const fresh = sub.got.slice(before);
    for (const r of fresh) assert.ok(tickMetaEpochEquals(r.frames[1]!, epochBytes(ing.epoch)));
    const newest = Math.max(...fresh.map((r) => r.seq));
    await until('the new ticks in history', async () => (await readHistory(redis, 303, 0)).ticks.some((t) => t.seq >= newest), 5_000);
    const { ticks } = await readHistory(redis, 303, 0);
    // The raw SUB may miss the first new ticks while it reconnects; the stream has them all.
    assert.ok(ticks.every((t, i) => i === 0 || t.seq === ticks[i - 1]!.seq + 1), 'consecutive from the first new seq');
    const bySeq = new Map(ticks.map((t) => [t.seq, t.ltp]));
    for (const r of fresh) assert.equal(bySeq.get(r.seq), (r.json as unknown as { ltp: number }).ltp, `seq ${r.seq}: the stream holds the new epoch's value`);
  } finally {
    sub.close();
  }
});
