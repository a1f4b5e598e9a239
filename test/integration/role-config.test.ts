/**
 * §2: each role requires only the variables it uses. With NODE_ENV=production and no JWT_SECRET
 * (the compose image), the feed runs; the gateway refuses to start, naming the variable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { freePort } from '../../src/start/embedded-redis.ts';
import { until, withTimeout } from '../helpers/wait.ts';

function run(role: string, env: Record<string, string>) {
  const base: NodeJS.ProcessEnv = { ...process.env, ...env, NODE_ENV: 'production', LOG_LEVEL: 'warn' };
  delete base.JWT_SECRET;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', role], { env: base, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (b) => (err += b));
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  return { child, exited, stderr: () => err };
}

const listening = (port: number) => new Promise<boolean>((resolve) => {
  const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
  s.once('error', () => resolve(false));
});

test('in production the feed runs without JWT_SECRET and stops cleanly', { timeout: 30_000 }, async (t) => {
  const port = await freePort();
  const feed = run('feed', { FEED_BIND: `tcp://127.0.0.1:${port}` });
  t.after(() => feed.child.kill('SIGKILL'));
  await until('the feed to bind', () => listening(port), 15_000, 100);
  feed.child.kill('SIGTERM');
  assert.equal(await withTimeout(feed.exited, 10_000, 'the feed to exit'), 0, feed.stderr());
});

test('in production the gateway without JWT_SECRET exits 2 naming it', { timeout: 30_000 }, async () => {
  const gw = run('gateway', { REDIS_URL: 'redis://127.0.0.1:1', PORT: '0' });
  assert.equal(await withTimeout(gw.exited, 15_000, 'the gateway to exit'), 2);
  assert.match(gw.stderr(), /JWT_SECRET: required when NODE_ENV=production/);
});
