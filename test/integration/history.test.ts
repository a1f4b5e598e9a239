/**
 * The history store against a real redis-server: the batched writer, the approximate trim, replays,
 * a Redis outage, and the two readers gateways use.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../src/log.ts';
import { parseFeedMessage } from '../../src/ingester/feed-message.ts';
import { encodeTick, MODES, type Tick } from '../../src/protocol/tick.ts';
import { startEmbeddedRedis, type EmbeddedRedis } from '../../src/start/embedded-redis.ts';
import { readHistory, readNewest } from '../../src/store/history.ts';
import { HistoryWriter } from '../../src/store/history-writer.ts';
import { Keys } from '../../src/store/keys.ts';
import { connectRedis, waitReady } from '../../src/store/redis.ts';
import { startTestRedis } from '../helpers/redis.ts';
import { until, withTimeout } from '../helpers/wait.ts';

const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent', 'test');
// The outage test restarts the server; whichever runs at the end is stopped here (startTestRedis
// stops only the first one, then removes its directory).
let server: EmbeddedRedis | undefined;
after(() => server?.stop());
server = await startTestRedis({ after });
const redis = connectRedis(server.url, log, 'history-test');
after(() => redis.disconnect());
await waitReady(redis);

const tick = (token: number, seq: number): Tick => ({ token, seq, ltp: 100 + seq / 100, ts: 1_700_000_000_000 + seq, volume: seq });

async function writeTicks(w: HistoryWriter, token: number, from: number, to: number): Promise<void> {
  for (let s = from; s <= to; s++) w.add(tick(token, s));
  assert.equal(await withTimeout(w.flush(), 5_000, 'history flush'), true);
}

test('after N ticks, readHistory(after k) returns exactly k+1..N in order, with their values', async () => {
  const w = new HistoryWriter(redis, 100, log);
  after(() => w.close());
  await writeTicks(w, 11, 1, 60);
  const { ticks, oldest } = await readHistory(redis, 11, 25);
  assert.deepEqual(ticks.map((t) => t.seq), Array.from({ length: 35 }, (_, i) => 26 + i));
  assert.deepEqual(ticks[0], tick(11, 26));
  assert.equal(oldest, 1);
  assert.deepEqual((await readHistory(redis, 11, 25, 5)).ticks.map((t) => t.seq), [26, 27, 28, 29, 30], 'limit');
  assert.deepEqual((await readHistory(redis, 11, 60)).ticks, [], 'nothing after the newest');
  assert.deepEqual(await readHistory(redis, 12, 0), { ticks: [], oldest: undefined }, 'a token without history');
  assert.ok(w.stats.batches < 10, `written in few calls, not per tick (${w.stats.batches})`);
});

test('the feed text stored as it came reads back as the tick the ingester published, in every form the feed may use', async () => {
  const w = new HistoryWriter(redis, 100, log);
  after(() => w.close());
  const token = 61;
  const depth = { buy: [{ price: 99.95, qty: 10, orders: 2 }], sell: [] };
  // Each as parseFeedMessage gives it: the text (`source`) is kept only when it carries its ts.
  const messages: [Buffer[], number][] = [
    [[Buffer.from(JSON.stringify({ token, ltp: 101.5, ts: 1_700_000_000_001, close: 100, depth, extra: 'dropped' }))], 1],
    [[Buffer.from(String(token)), Buffer.from('{\n  "ltp": 102.25,\n  "ts": 1700000000002.9,\n  "volume": 7\n}')], 2], // two-frame form, pretty-printed
    [[Buffer.from(JSON.stringify({ token, ltp: 103 }))], 3], // no ts: stamped at ingest, so stored as the tick's JSON
  ];
  const published: Tick[] = [];
  const kept: boolean[] = [];
  for (const [frames, seq] of messages) {
    const r = parseFeedMessage(frames, 1_700_000_000_999);
    assert.ok(r.ok);
    const t: Tick = { ...r.tick, seq };
    published.push(t);
    kept.push(r.source !== undefined);
    w.add(t, r.source);
  }
  assert.deepEqual(kept, [true, true, false]);
  assert.equal(await withTimeout(w.flush(), 5_000, 'history flush'), true);
  const { ticks } = await readHistory(redis, token, 0);
  assert.deepEqual(ticks, published);
  for (const t of ticks) for (const m of MODES) assert.equal(encodeTick(t, m), encodeTick(published[t.seq - 1]!, m));
  assert.deepEqual((await readNewest(redis, [token])).get(token), published[2]);
});

test('beyond HISTORY_SIZE the stream is trimmed approximately: the oldest kept is within one stream node', async () => {
  const size = 200;
  const n = 2_000;
  const w = new HistoryWriter(redis, size, log);
  after(() => w.close());
  await writeTicks(w, 21, 1, n);
  const { ticks, oldest } = await readHistory(redis, 21, 0);
  assert.ok(oldest !== undefined && oldest <= n - size + 1, `at least HISTORY_SIZE kept (oldest ${oldest})`);
  // MAXLEN ~ removes whole radix-tree nodes (stream-node-max-entries, 100 by default).
  assert.ok(oldest > n - size - 100, `at most one node more (oldest ${oldest})`);
  assert.equal(ticks[0]!.seq, oldest);
  assert.equal(ticks.at(-1)!.seq, n);
  assert.ok(ticks.every((t, i) => i === 0 || t.seq === ticks[i - 1]!.seq + 1), 'consecutive');
});

test('a replayed tick (seq not above the stream top) is skipped without failing the batch; a broken key fails only its tick', async () => {
  const w = new HistoryWriter(redis, 100, log);
  after(() => w.close());
  await writeTicks(w, 31, 1, 10);
  await redis.set(Keys.history(32), 'not a stream');
  for (let s = 5; s <= 15; s++) w.add(tick(31, s));
  w.add(tick(32, 1));
  assert.equal(await w.flush(), true);
  assert.deepEqual({ written: w.stats.written, skipped: w.stats.skipped, failed: w.stats.failed }, { written: 15, skipped: 6, failed: 1 });
  const { ticks } = await readHistory(redis, 31, 0);
  assert.deepEqual(ticks.map((t) => t.seq), Array.from({ length: 15 }, (_, i) => i + 1));
});

test('while Redis is down the writer keeps a bounded backlog, drops the oldest, and writes the rest when Redis is back', async () => {
  const w = new HistoryWriter(redis, 10_000, log, { maxBacklog: 500 });
  after(() => w.close());
  await server!.stop();
  await until('the client to see Redis down', () => redis.status !== 'ready', 5_000);
  for (let s = 1; s <= 3_000; s++) w.add(tick(41, s));
  assert.equal(w.stats.dropped + w.pending, 3_000);
  assert.ok(w.pending <= 500 + 1_000, `bounded backlog (${w.pending})`);
  server = await startEmbeddedRedis(server!.dir, { port: server!.port });
  await until('the backlog to be written', () => w.pending === 0 && w.stats.written > 0, 10_000);
  const { ticks } = await readHistory(redis, 41, 0);
  assert.equal(ticks.length, 3_000 - w.stats.dropped);
  assert.equal(ticks.at(-1)!.seq, 3_000, 'the newest are kept, the oldest dropped');
  assert.ok(ticks.every((t, i) => i === 0 || t.seq === ticks[i - 1]!.seq + 1));
});

test('readNewest takes the newer of the stream tail and the tg:last hash, per token', async () => {
  const w = new HistoryWriter(redis, 100, log);
  after(() => w.close());
  await writeTicks(w, 51, 1, 7); // history only
  await writeTicks(w, 52, 1, 3); // hash newer than history
  await redis.hset(Keys.lastTicks, '52', JSON.stringify(tick(52, 4)), '53', JSON.stringify(tick(53, 9)));
  const newest = await readNewest(redis, [51, 52, 53, 54]);
  assert.equal(newest.get(51)?.seq, 7);
  assert.equal(newest.get(52)?.seq, 4);
  assert.equal(newest.get(53)?.seq, 9, 'hash only');
  assert.equal(newest.has(54), false);
  assert.equal((await readNewest(redis, [])).size, 0);
});
