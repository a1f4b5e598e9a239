/**
 * Issue 9 acceptance, "metrics": `/metrics` from either worker of `tickgate start` (WORKERS=2)
 * shows totals equal to what the test did: sockets, subscriptions, deliveries per mode, closes by
 * code, rejected feed messages, auth failures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as zmq from 'zeromq';
import { freePort } from '../../src/start/embedded-redis.ts';
import { spawnStart } from '../helpers/processes.ts';
import { httpRequest } from '../helpers/system.ts';
import { until, withTimeout } from '../helpers/wait.ts';
import { TestClient } from '../helpers/ws-client.ts';

const TOKEN = 738561;

/** The sum of every series of `name` whose labels include `labels`. */
function value(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

test('/metrics from either worker shows the totals of what the test did', { timeout: 120_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickgate-metrics-'));
  const port = await freePort();
  // ZeroMQ on ipc:// in the test's directory: a TCP port picked free can be taken before it is bound.
  const feed = `ipc://${dir}/feed.sock`;
  const env: NodeJS.ProcessEnv = {
    ...process.env, PORT: String(port), DATA_DIR: dir, LOG_LEVEL: 'warn', DRAIN_MS: '500', WORKERS: '2', FEED_SIMULATOR: 'off',
    FEED_ENDPOINTS: feed, INGEST_BIND: `ipc://${dir}/ingest.sock`, CONTROL_BIND: `ipc://${dir}/control.sock`,
  };
  delete env.REDIS_URL;
  delete env.JWT_SECRET;
  const pub = new zmq.XPublisher();
  pub.sendTimeout = 0;
  await pub.bind(feed);
  const p = spawnStart(env);
  t.after(() => {
    p.killAll();
    pub.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await until('the ready line', () => /ready: /.test(p.output()) || p.child.exitCode !== null, 60_000, 100);
  assert.match(p.output(), /ready: /, p.output());
  await withTimeout(pub.receive(), 10_000, 'the ingester to subscribe to the feed');

  const req = async (method: string, p: string, body?: unknown, token?: string) => {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    const r = await httpRequest(port, method, p, headers, body === undefined ? undefined : JSON.stringify(body));
    return { status: r.status, text: r.text, headers: r.headers };
  };
  const creds = { username: 'metered', password: 'correct-horse' };
  assert.equal((await req('POST', '/api/auth/register', creds)).status, 201);
  const access = JSON.parse((await req('POST', '/api/auth/login', creds)).text).access_token as string;
  // Two failed logins: auth failures by reason.
  for (let i = 0; i < 2; i++) assert.equal((await req('POST', '/api/auth/login', { ...creds, password: 'wrong-horse' })).status, 401);

  // Sockets on both workers: three in ltp, the others in full.
  const clients: TestClient[] = [];
  const workers = new Set<string>();
  while (clients.length < 6 || workers.size < 2) {
    assert.ok(clients.length < 20, 'connections reached both workers');
    const c = await TestClient.connect(`ws://127.0.0.1:${port}/ws?access_token=${access}`);
    t.after(() => c.ws.terminate());
    workers.add((await c.nextOfType('welcome')).worker);
    clients.push(c);
  }
  const ltp = clients.slice(0, 3);
  const full = clients.slice(3);
  for (const c of ltp) await c.request({ op: 'subscribe', tokens: [TOKEN], mode: 'ltp' });
  for (const c of full) await c.request({ op: 'subscribe', tokens: [TOKEN], mode: 'full' });

  // Ticks: every socket must see each one. The first one makes the token known everywhere.
  const TICKS = 20;
  const send = (i: number) => pub.send([String(TOKEN), JSON.stringify({ token: TOKEN, ltp: 100 + i, ts: Date.now() })]);
  await until('the first tick at every socket', async () => {
    if (clients.every((c) => c.ticks(TOKEN).length > 0)) return true;
    await send(0);
    return false;
  }, 10_000, 200);
  const warmup = clients[0]!.ticks(TOKEN).at(-1)!.seq as number;
  const lastSeq = warmup + TICKS;
  const deliveredBefore = async () => value((await req('GET', '/metrics')).text, 'tickgate_deliveries_total');
  // The warm-up ticks' deliveries settle in the snapshots first.
  let base = { ltp: 0, full: 0 };
  await until('warm-up deliveries published', async () => {
    const a = await req('GET', '/metrics');
    await new Promise((r) => setTimeout(r, 1_200));
    const b = await req('GET', '/metrics');
    base = { ltp: value(b.text, 'tickgate_deliveries_total', { mode: 'ltp' }), full: value(b.text, 'tickgate_deliveries_total', { mode: 'full' }) };
    return value(a.text, 'tickgate_deliveries_total') === value(b.text, 'tickgate_deliveries_total') && (await deliveredBefore()) === value(b.text, 'tickgate_deliveries_total');
  }, 15_000, 10);
  for (let i = 1; i <= TICKS; i++) await send(i);
  await until('every tick at every socket', () => clients.every((c) => c.ticks(TOKEN).some((m) => m.seq === lastSeq)), 10_000);

  // Rejected feed messages, by reason.
  await pub.send([String(TOKEN), 'not json']);
  await pub.send([String(TOKEN), JSON.stringify({ token: TOKEN, ltp: 'x' })]);
  await pub.send([String(TOKEN), JSON.stringify({ token: TOKEN, ltp: 'y' })]);

  const expectWhileOpen = (text: string) => {
    assert.equal(value(text, 'tickgate_sockets'), clients.length, 'sockets');
    assert.equal(value(text, 'tickgate_subscriptions'), clients.length, 'subscriptions');
    assert.equal(value(text, 'tickgate_deliveries_total', { mode: 'ltp' }) - base.ltp, TICKS * ltp.length, 'ltp deliveries');
    assert.equal(value(text, 'tickgate_deliveries_total', { mode: 'full' }) - base.full, TICKS * full.length, 'full deliveries');
    assert.equal(value(text, 'tickgate_deliveries_total', { mode: 'quote' }), 0, 'quote deliveries');
    assert.equal(value(text, 'tickgate_ticks_rejected_total', { reason: 'bad_json' }), 1, 'bad_json rejects');
    assert.equal(value(text, 'tickgate_ticks_rejected_total', { reason: 'bad_ltp' }), 2, 'bad_ltp rejects');
    assert.equal(value(text, 'tickgate_ticks_out_total'), lastSeq, 'ticks out');
    assert.equal(value(text, 'tickgate_auth_failures_total', { reason: 'invalid_credentials' }), 2, 'auth failures');
    assert.equal(value(text, 'tickgate_processes', { role: 'gateway' }), 2);
    assert.equal(value(text, 'tickgate_processes', { role: 'ingester' }), 1);
    assert.equal(value(text, 'tickgate_redis_up'), 1);
    assert.equal(value(text, 'tickgate_ingest_link_up'), 1);
    assert.ok(value(text, 'tickgate_tick_latency_seconds_count') >= 0);
    assert.match(text, /# TYPE tickgate_event_loop_lag_seconds gauge/);
  };
  await eitherWorker('open sockets', req, expectWhileOpen);

  // The README's metrics table names exactly the metrics served.
  const readme = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'README.md'), 'utf8');
  const documented = new Set([...readme.matchAll(/^\| `(tickgate_[a-z_]+)` \|/gm)].map((m) => m[1]));
  const served = new Set([...(await req('GET', '/metrics')).text.matchAll(/^# TYPE (tickgate_[a-z_]+) /gm)].map((m) => m[1]));
  assert.deepEqual([...served].sort(), [...documented].sort());

  // Logout closes every socket of the session with 4003, on both workers.
  assert.equal((await req('POST', '/api/auth/logout', undefined, access)).status, 204);
  for (const c of clients) assert.equal((await c.waitClose()).code, 4003);
  await eitherWorker('after logout', req, (text) => {
    assert.equal(value(text, 'tickgate_sockets'), 0, 'sockets');
    assert.equal(value(text, 'tickgate_closes_total', { code: '4003' }), clients.length, 'closes 4003');
  });

  p.child.kill('SIGTERM');
  assert.equal(await withTimeout(p.exited, 30_000, 'exit after SIGTERM'), 0, p.output());
});

/** Asks /metrics until an answer from each of the two workers passes `check` (snapshots lag ≤ 1 s). */
async function eitherWorker(what: string, req: (m: string, p: string) => Promise<{ text: string; headers: Headers }>, check: (text: string) => void) {
  const passed = new Set<string>();
  let last: unknown;
  await until(`/metrics from both workers (${what})`, async () => {
    const r = await req('GET', '/metrics');
    try {
      check(r.text);
      passed.add(r.headers.get('x-tickgate-worker')!);
    } catch (err) {
      last = err;
    }
    return passed.size >= 2;
  }, 15_000, 50).catch((err) => {
    throw last ?? err;
  });
}
