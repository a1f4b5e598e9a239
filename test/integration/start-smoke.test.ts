/**
 * `npm start` as a newcomer runs it: embedded Redis, simulator, ingester, two gateway workers on
 * one port. It serves, streams, and a Ctrl-C (SIGINT to the whole process group) stops every
 * process it started, with exit code 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/start/embedded-redis.ts';
import { until, withTimeout } from '../helpers/wait.ts';
import { alive, descendants, groupMembers } from '../helpers/processes.ts';
import { TestClient } from '../helpers/ws-client.ts';

/**
 * The supervisor's children lead their own process groups (a Ctrl-C reaches only the supervisor,
 * which stops them in order), so "nothing left" means every process seen below the root is gone.
 */
function killTree(pids: number[]) {
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
}

test('npm start serves, streams a tick, and stops cleanly on SIGINT with no child left', { timeout: 90_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickgate-start-'));
  const port = await freePort();
  // ZeroMQ on ipc:// in the test's directory: a TCP port picked free can be taken before it is bound.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port), WORKERS: '2', DATA_DIR: dir, LOG_LEVEL: 'warn',
    FEED_BIND: `ipc://${dir}/feed.sock`, FEED_ENDPOINTS: `ipc://${dir}/feed.sock`,
    INGEST_BIND: `ipc://${dir}/ingest.sock`, CONTROL_BIND: `ipc://${dir}/control.sock`,
    SIM_TOKENS: '5', SIM_RATE: '200',
  };
  delete env.REDIS_URL;
  delete env.JWT_SECRET;
  // detached: its own process group, so the SIGINT below reaches npm and tickgate the way Ctrl-C
  // does; tickgate's children lead groups of their own and are stopped by tickgate, in order.
  const npm = spawn('npm', ['start'], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const tree: number[] = [];
  let out = '';
  npm.stdout.on('data', (b) => (out += b));
  npm.stderr.on('data', (b) => (out += b));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => npm.once('exit', (code, signal) => resolve({ code, signal })));
  try {
    await until('the ready lines', () => /Ctrl-C stops everything/.test(out) || npm.exitCode !== null, 60_000, 100);
    assert.match(out, new RegExp(`ready: http://127\\.0\\.0\\.1:${port}`), out);
    assert.match(out, /try it: curl/);

    const base = `http://127.0.0.1:${port}`;
    assert.deepEqual(await (await fetch(`${base}/healthz`)).json(), { status: 'ok' });
    const creds = { username: 'smoke', password: 'correct-horse' };
    const post = (p: string, body: unknown) => fetch(base + p, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal((await post('/api/auth/register', creds)).status, 201);
    const login = await (await post('/api/auth/login', creds)).json();
    const c = await TestClient.connect(`ws://127.0.0.1:${port}/ws?access_token=${login.access_token}`);
    await c.nextOfType('welcome');
    await c.request({ op: 'subscribe', tokens: [256265], mode: 'ltp' });
    const tick = await c.next((m) => m.type === 'tick' && !m.snapshot, 15_000);
    assert.equal(tick.token, 256265);
    c.ws.terminate();
    assert.ok(fs.existsSync(path.join(dir, 'jwt_secret')), 'JWT key generated into the data dir');
    assert.ok(fs.existsSync(path.join(dir, 'redis')), 'embedded Redis keeps its data in the data dir');

    const members = descendants(npm.pid!).map((d) => d.pid);
    tree.push(...members);
    assert.ok(members.length >= 6, `npm, tickgate, redis, feed, ingester, 2 gateways: saw ${members.length}`);
    process.kill(-npm.pid!, 'SIGINT');
    const { code, signal } = await withTimeout(exited, 30_000, 'npm start to exit after SIGINT');
    // npm itself dies of the SIGINT (that is npm's behaviour); tickgate's own clean exit is shown
    // by its last line and, in the next test, by its exit code.
    assert.ok(code === 0 || signal === 'SIGINT', `npm exit ${code} ${signal}`);
    assert.match(out, /\[tickgate\] stopped/);
    await until('no process of the group left', () => groupMembers(npm.pid!).length === 0, 5_000);
    await until('no process started under npm left', () => members.every((pid) => !alive(pid)), 5_000);
  } finally {
    if (groupMembers(npm.pid!).length > 0) process.kill(-npm.pid!, 'SIGKILL');
    killTree(tree);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('tickgate start exits 0 on SIGTERM and leaves no child behind', { timeout: 60_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickgate-start-'));
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env, PORT: String(port), WORKERS: '1', DATA_DIR: dir, LOG_LEVEL: 'warn', FEED_SIMULATOR: 'off',
    INGEST_BIND: `ipc://${dir}/ingest.sock`, CONTROL_BIND: `ipc://${dir}/control.sock`,
  };
  delete env.REDIS_URL;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'start'], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const tree: number[] = [];
  let out = '';
  child.stdout.on('data', (b) => (out += b));
  child.stderr.on('data', (b) => (out += b));
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  try {
    await until('the ready line', () => /ready: /.test(out) || child.exitCode !== null, 45_000, 100);
    assert.match(out, /ready: /, out);
    const kids = descendants(child.pid!).map((d) => d.pid);
    tree.push(...kids);
    assert.ok(kids.length >= 3, `redis, ingester, gateway under tickgate: saw ${kids.length}`);
    child.kill('SIGTERM'); // the supervisor alone: it must stop its children itself
    assert.equal(await withTimeout(exited, 30_000, 'exit after SIGTERM'), 0, out);
    await until('no child left', () => groupMembers(child.pid!).length === 0 && kids.every((pid) => !alive(pid)), 5_000);
  } finally {
    if (groupMembers(child.pid!).length > 0) process.kill(-child.pid!, 'SIGKILL');
    killTree(tree);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('without redis-server on PATH, start exits with one line saying how to get it', { timeout: 30_000 }, async () => {
  // A PATH holding only node: no redis-server to find.
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'tickgate-path-'));
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: bin, LOG_LEVEL: 'warn', DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'tickgate-nored-')) };
  delete env.REDIS_URL;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (b) => (err += b));
  const code = await withTimeout(new Promise<number | null>((r) => child.once('exit', (c) => r(c))), 20_000, 'exit');
  assert.notEqual(code, 0);
  assert.match(err, /redis-server is not on PATH.*apt-get install -y redis-server.*REDIS_URL/s);
  assert.equal(err.trim().split('\n').length, 1, err);
});
