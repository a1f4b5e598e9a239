/**
 * Issue 9 acceptance, "drain": a gateway worker process told SIGTERM with 200 open sockets and
 * DRAIN_MS=3000 turns /readyz 503 first, then tells every client `shutdown` and closes it 1001,
 * the closes spread over the window, and exits 0 within about 3.5 s.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/start/embedded-redis.ts';
import { httpRequest, startSystem, TEST_JWT_SECRET } from '../helpers/system.ts';
import { until, withTimeout } from '../helpers/wait.ts';
import { TestClient } from '../helpers/ws-client.ts';

const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'main.ts');
const CLIENTS = 200;
const DRAIN_MS = 3_000;

const sys = await startSystem({ after }, { gateways: 0, simulator: true });

test('SIGTERM with 200 clients: readyz 503 first, then shutdown and 1001 for each, spread over DRAIN_MS, exit 0 in time', { timeout: 90_000 }, async () => {
  const port = await freePort();
  const gw = spawn(process.execPath, ['--import', 'tsx', MAIN, 'gateway'], {
    env: {
      ...process.env,
      REDIS_URL: sys.redisServer.url, INGEST_BIND: sys.config.ingestBind, CONTROL_BIND: sys.config.controlBind,
      JWT_SECRET: TEST_JWT_SECRET, HOST: '127.0.0.1', PORT: String(port), DRAIN_MS: String(DRAIN_MS),
      MAX_SOCKETS_PER_USER: String(CLIENTS + 10), LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  gw.stdout!.on('data', (b) => (out += b));
  gw.stderr!.on('data', (b) => (out += b));
  const exited = new Promise<{ code: number | null; at: number }>((r) => gw.once('exit', (code) => r({ code, at: Date.now() })));
  after(() => gw.kill('SIGKILL'));
  const get = (p: string) => httpRequest(port, 'GET', p, {});
  await until('the worker ready', async () => (await get('/readyz').catch(() => undefined))?.status === 200, 20_000, 100);

  const post = async (p: string, body: unknown) => JSON.parse((await httpRequest(port, 'POST', p, { 'content-type': 'application/json' }, JSON.stringify(body))).text);
  const creds = { username: 'drainer', password: 'correct-horse' };
  await post('/api/auth/register', creds);
  const { access_token: access } = await post('/api/auth/login', creds);
  const clients: TestClient[] = [];
  while (clients.length < CLIENTS) {
    const batch = await Promise.all(Array.from({ length: 20 }, async () => {
      const c = await TestClient.connect(`ws://127.0.0.1:${port}/ws?access_token=${access}`);
      await c.nextOfType('welcome');
      return c;
    }));
    clients.push(...batch);
  }
  after(() => clients.forEach((c) => c.ws.terminate()));
  // Some of them streaming, so the drain happens under traffic.
  await Promise.all(clients.slice(0, 20).map((c) => c.request({ op: 'subscribe', tokens: [256265], mode: 'ltp' })));

  const closes = clients.map((c) => c.closed.then((r) => ({ ...r, at: Date.now() })));
  const sigAt = Date.now();
  gw.kill('SIGTERM');

  // /readyz answers 503 before the listen socket goes away.
  const statuses: (number | 'refused')[] = [];
  await until('the listen socket to close', async () => {
    const r = await get('/readyz').catch(() => undefined);
    statuses.push(r?.status ?? 'refused');
    if (r?.status === 503) assert.deepEqual(JSON.parse(r.text), { status: 'draining' });
    return r === undefined;
  }, DRAIN_MS, 5);
  const first503 = statuses.indexOf(503);
  assert.ok(first503 >= 0, `readyz said 503 before refusing: ${statuses.join(',')}`);
  assert.ok(statuses.slice(first503).every((s) => s !== 200), `never 200 again after the first 503: ${statuses.join(',')}`);

  const results = await withTimeout(Promise.all(closes), DRAIN_MS + 2_000, 'every client closed');
  const { code, at: exitAt } = await withTimeout(exited, 5_000, 'the worker to exit');
  const exitMs = exitAt - sigAt;
  assert.equal(code, 0, out);
  for (const [i, r] of results.entries()) {
    assert.equal(r.code, 1001, `client ${i}`);
    const shutdown = clients[i]!.inbox.find((m) => m.type === 'shutdown');
    assert.ok(shutdown, `client ${i} got shutdown`);
    assert.equal(clients[i]!.inbox.at(-1), shutdown, 'shutdown is the last message before the close');
    assert.ok(shutdown.reconnect_after_ms >= 500 && shutdown.reconnect_after_ms < 500 + DRAIN_MS);
  }
  const offsets = results.map((r) => r.at - sigAt).sort((a, b) => a - b);
  const pct = (q: number) => offsets[Math.floor(q * (offsets.length - 1))]!;
  // At most 10% of the clients in any 100 ms: a spread, not a stampede.
  const buckets = new Map<number, number>();
  for (const o of offsets) buckets.set(Math.floor(o / 100), (buckets.get(Math.floor(o / 100)) ?? 0) + 1);
  const busiest = Math.max(...buckets.values());
  console.log(`drain of ${CLIENTS}: closes from ${offsets[0]} to ${offsets.at(-1)} ms (p10 ${pct(0.1)}, p50 ${pct(0.5)}, p90 ${pct(0.9)}), busiest 100 ms had ${busiest}, exit 0 after ${exitMs} ms`);
  assert.ok(pct(0.9) - pct(0.1) >= DRAIN_MS / 2, `closes spread over at least half the window (p10 ${pct(0.1)}, p90 ${pct(0.9)})`);
  assert.ok(busiest <= CLIENTS / 10, `busiest 100 ms had ${busiest} closes`);
  assert.ok(new Set(clients.map((c) => c.inbox.find((m) => m.type === 'shutdown')!.reconnect_after_ms)).size > CLIENTS / 4, 'reconnect hints differ');
  assert.ok(exitMs <= DRAIN_MS + 500, `exited ${exitMs} ms after SIGTERM`);
});
