/**
 * Issue 9 acceptance, "failures stay local": `tickgate start` restarts a child that dies (a
 * gateway worker, the ingester, a crash-looping feed) with growing delays, while everything else
 * keeps running and streaming.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/start/embedded-redis.ts';
import { alive, descendants, spawnStart, type StartProcess } from '../helpers/processes.ts';
import { until, withTimeout } from '../helpers/wait.ts';
import { TestClient, type Msg } from '../helpers/ws-client.ts';

const TOKEN = 256265;

async function startEnv(extra: Record<string, string>) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickgate-sup-'));
  const port = await freePort();
  // ZeroMQ on ipc:// in the test's own directory: a TCP port picked free can be taken before the
  // role binds it (by another test file's server, or by a reconnecting peer's own ephemeral port),
  // and then the ingester fails every start with EADDRINUSE (seen in CI).
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port), DATA_DIR: dir, LOG_LEVEL: 'warn', DRAIN_MS: '500',
    FEED_BIND: `ipc://${dir}/feed.sock`, FEED_ENDPOINTS: `ipc://${dir}/feed.sock`,
    INGEST_BIND: `ipc://${dir}/ingest.sock`, CONTROL_BIND: `ipc://${dir}/control.sock`,
    SIM_TOKENS: '5', SIM_RATE: '200',
    ...extra,
  };
  delete env.REDIS_URL;
  delete env.JWT_SECRET;
  return { dir, port, env };
}

async function stopCleanly(p: StartProcess) {
  p.child.kill('SIGTERM');
  assert.equal(await withTimeout(p.exited, 30_000, 'tickgate start to exit after SIGTERM'), 0, p.output());
}

async function login(port: number, username: string) {
  const base = `http://127.0.0.1:${port}`;
  const post = (p: string, body: unknown) => fetch(base + p, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const creds = { username, password: 'correct-horse' };
  assert.equal((await post('/api/auth/register', creds)).status, 201);
  return (await (await post('/api/auth/login', creds)).json()).access_token as string;
}

async function connect(port: number, access: string): Promise<{ c: TestClient; worker: string }> {
  const c = await TestClient.connect(`ws://127.0.0.1:${port}/ws?access_token=${access}`);
  const welcome = await c.nextOfType('welcome');
  return { c, worker: welcome.worker as string };
}

/** Each tick's seq is one more than the one before: nothing missing, nothing repeated. */
function assertNoSeqGap(ticks: Msg[], what: string) {
  for (let i = 1; i < ticks.length; i++) {
    assert.equal(ticks[i]!.seq, ticks[i - 1]!.seq + 1, `${what}: seq ${ticks[i - 1]!.seq} then ${ticks[i]!.seq}`);
  }
}

test('a killed gateway worker or ingester is restarted while the rest keeps streaming', { timeout: 120_000 }, async (t) => {
  const { dir, port, env } = await startEnv({ WORKERS: '2' });
  const p = spawnStart(env);
  t.after(() => {
    p.killAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await until('the ready line', () => /ready: /.test(p.output()) || p.child.exitCode !== null, 60_000, 100);
  assert.match(p.output(), /ready: /, p.output());

  // Children lead their own process groups: a Ctrl-C at the terminal reaches only the supervisor.
  const kids = descendants(p.child.pid!);
  assert.ok(kids.length >= 5, `redis, feed, ingester, 2 gateways: ${JSON.stringify(kids)}`);
  for (const k of kids.filter((k) => k.args.includes('main.ts'))) assert.equal(k.pgid, k.pid, `${k.args} leads its own group`);

  // Sockets on both workers, all streaming the same token.
  const access = await login(port, 'sup_streamer');
  const byWorker = new Map<string, TestClient[]>();
  for (let i = 0; i < 20 && !(byWorker.size === 2 && [...byWorker.values()].every((l) => l.length >= 2)); i++) {
    const { c, worker } = await connect(port, access);
    t.after(() => c.ws.terminate());
    byWorker.set(worker, [...(byWorker.get(worker) ?? []), c]);
  }
  assert.equal(byWorker.size, 2, 'connections reached both workers');
  for (const list of byWorker.values()) for (const c of list) await c.request({ op: 'subscribe', tokens: [TOKEN], mode: 'ltp' });
  for (const list of byWorker.values()) for (const c of list) await c.next((m) => m.type === 'tick' && !m.snapshot, 15_000);

  const [victim, survivor] = [...byWorker.keys()];
  const survivors = byWorker.get(survivor!)!;
  const before = survivors.map((c) => c.ticks(TOKEN).filter((m) => !m.snapshot).length);
  // Logged in before the kill: a request racing the kill may land in the dying worker's queue.
  const prober = await login(port, 'sup_prober');
  const killedAt = Date.now();
  process.kill(Number(victim), 'SIGKILL');

  // A new worker accepts connections within 2 s (it answers with a pid that is neither old one).
  const fresh = await until('a connection to a restarted worker', async () => {
    try {
      const { c, worker } = await connect(port, prober);
      c.ws.terminate();
      return worker !== victim && worker !== survivor ? worker : undefined;
    } catch {
      return undefined; // refused while the lease of the previous probe is released
    }
  }, 10_000, 10);
  const acceptedAfterMs = Date.now() - killedAt;
  console.log(`worker kill -9: a restarted worker (pid ${fresh}) accepted a socket ${acceptedAfterMs} ms after the kill`);
  assert.ok(acceptedAfterMs <= 2_000, `a new worker accepted after ${acceptedAfterMs} ms`);

  // The survivor's sockets streamed on throughout, with no seq gap and no gap message.
  await until('more ticks on every surviving socket', () => survivors.every((c, i) => c.ticks(TOKEN).filter((m) => !m.snapshot).length > before[i]! + 5), 10_000);
  for (const c of survivors) {
    assertNoSeqGap(c.ticks(TOKEN).filter((m) => !m.snapshot), 'surviving socket');
    assert.equal(c.inbox.filter((m) => m.type === 'gap' || m.type === 'shutdown').length, 0);
    assert.equal(c.ws.readyState, c.ws.OPEN);
  }
  // The victim's sockets were dropped (not drained: the process died).
  for (const c of byWorker.get(victim!)!) await c.waitClose();
  assert.equal(p.child.exitCode, null, 'the supervisor is still running');
  assert.match(p.output(), /gateway-\d died \(killed by SIGKILL\); restart #1 in 100 ms/);

  // The ingester: killed, restarted, and ticks flow again within 3 s.
  const ingester = descendants(p.child.pid!).find((d) => /main\.ts ingester$/.test(d.args));
  assert.ok(ingester, 'the ingester process');
  const watcher = survivors[0]!;
  const mark = watcher.inbox.length;
  const ingesterKilledAt = Date.now();
  process.kill(ingester.pid, 'SIGKILL');
  await until('the old ingester gone', () => !alive(ingester.pid), 5_000, 10);
  // The restarted ingester starts a new epoch; the first live tick after it is the proof.
  await until('a live tick from the restarted ingester', () => {
    const after = watcher.inbox.slice(mark);
    const epochAt = after.findIndex((m) => m.type === 'epoch');
    return epochAt >= 0 && after.slice(epochAt).some((m) => m.type === 'tick' && !m.snapshot);
  }, 10_000, 10);
  const flowingAfterMs = Date.now() - ingesterKilledAt;
  console.log(`ingester kill -9: ticks flowed again ${flowingAfterMs} ms after the kill`);
  assert.ok(flowingAfterMs <= 3_000, `ticks flowed again after ${flowingAfterMs} ms`);
  assert.match(p.output(), /ingester died \(killed by SIGKILL\); restart #1 in 100 ms/);
  assert.equal(p.child.exitCode, null, 'the supervisor is still running');

  // Redis: restarted on the same port with the same data directory, so the users are still there.
  const redis = descendants(p.child.pid!).find((d) => d.args.startsWith('redis-server'));
  assert.ok(redis, 'the embedded redis-server');
  process.kill(redis.pid, 'SIGKILL');
  await until('redis restarted', () => /redis died \(killed by SIGKILL\); restart #1 in 100 ms/.test(p.output()), 5_000, 10);
  const relogin = await until('a login after the Redis restart', async () => {
    const r = await fetch(`http://127.0.0.1:${port}/api/auth/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'sup_streamer', password: 'correct-horse' }),
    }).catch(() => undefined);
    return r?.status === 200 ? r.status : undefined;
  }, 15_000, 100);
  assert.equal(relogin, 200, 'the user registered before the Redis crash can still log in');

  await stopCleanly(p);
  await until('no child left', () => descendants(p.child.pid!).length === 0 && kids.every((k) => !alive(k.pid)), 5_000);
});

test('a child that dies on every start is restarted with growing delays, not spun', { timeout: 90_000 }, async (t) => {
  // The feed's bind address is taken: the simulator fails at every start. The squatter holds its
  // port from the moment it is picked, so nothing else can take it in between.
  const squatter = net.createServer();
  await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
  const feed = `tcp://127.0.0.1:${(squatter.address() as net.AddressInfo).port}`;
  const { dir, port, env } = await startEnv({ WORKERS: '1', FEED_BIND: feed, FEED_ENDPOINTS: feed });
  const p = spawnStart(env);
  t.after(() => {
    p.killAll();
    squatter.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await until('the ready line', () => /ready: /.test(p.output()) || p.child.exitCode !== null, 60_000, 100);
  assert.match(p.output(), /ready: /, p.output());
  await until('five feed restarts', () => (p.output().match(/feed died/g) ?? []).length >= 5, 30_000, 100);
  const restarts = [...p.output().matchAll(/feed died \(exit code (\d+)\); restart #(\d+) in (\d+) ms/g)].map((m) => ({ code: Number(m[1]), n: Number(m[2]), delay: Number(m[3]) }));
  console.log(`crash loop: restart delays ${restarts.map((r) => r.delay).join(', ')} ms`);
  assert.deepEqual(restarts.slice(0, 5).map((r) => r.n), [1, 2, 3, 4, 5]);
  assert.deepEqual(restarts.slice(0, 5).map((r) => r.delay), [100, 200, 400, 800, 1_600]);
  assert.ok(restarts.every((r) => r.code !== 0));
  // The rest of the system is unaffected.
  assert.equal(p.child.exitCode, null);
  assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);
  // The restarts and the growing delay are in /metrics too.
  await until('feed restarts in /metrics', async () => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const restartsSeen = Number(/^tickgate_child_restarts_total\{child="feed"\} (\d+)$/m.exec(text)?.[1] ?? 0);
    const delay = Number(/^tickgate_child_restart_delay_seconds\{child="feed"\} (\S+)$/m.exec(text)?.[1] ?? 0);
    return restartsSeen >= 5 && delay >= 1.6;
  }, 10_000, 200);
  await stopCleanly(p);
  await until('no child left', () => descendants(p.child.pid!).length === 0, 5_000);
});
