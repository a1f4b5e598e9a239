/**
 * Issue 9 acceptance, "compose": no container engine runs here, so every docker-compose.yml
 * service's command runs on the host with the compose environment (and the image's
 * NODE_ENV=production): service hostnames map to loopback, ports to free ports, and the load
 * balancer's config runs with Debian's nginx. Two gateway processes share one port (as
 * `--scale gateway=2` would give the balancer two). Through the balancer a client registers,
 * logs in and streams; the services' healthchecks pass.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/start/embedded-redis.ts';
import { readCompose } from '../helpers/compose.ts';
import { httpRequest, TEST_JWT_SECRET } from '../helpers/system.ts';
import { until, withTimeout } from '../helpers/wait.ts';
import { TestClient } from '../helpers/ws-client.ts';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const hasNginx = spawnSync('nginx', ['-v'], { stdio: 'ignore' }).error === undefined;
/** The Dockerfile's ENV and ENTRYPOINT. */
const IMAGE_ENV = { NODE_ENV: 'production', LOG_LEVEL: 'info', MALLOC_ARENA_MAX: '2' };
const ENTRYPOINT = [process.execPath, path.join(ROOT, 'bin', 'tickgate.js')];

const tcpOpen = (port: number) => new Promise<boolean>((resolve) => {
  const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
  s.once('error', () => resolve(false));
});

test('the compose services, run on the host behind nginx: register, log in and stream through the balancer', { timeout: 120_000, skip: hasNginx ? false : 'nginx is not installed (.ci/run installs it)' }, async (t) => {
  const services = readCompose(path.join(ROOT, 'docker-compose.yml'), { JWT_SECRET: TEST_JWT_SECRET });
  for (const name of ['redis', 'feed', 'ingester', 'gateway', 'lb']) assert.ok(services[name]?.command.length, `service ${name} has a command`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickgate-compose-'));
  const ports: Record<string, Record<string, number>> = {
    redis: { 6379: await freePort() },
    feed: { 5555: await freePort() },
    ingester: { 5556: await freePort(), 5557: await freePort() },
    gateway: { 8080: await freePort() },
    lb: { 8080: await freePort() },
  };
  const procs: { name: string; proc: ChildProcess; out: () => string }[] = [];
  t.after(async () => {
    // Each leads its own group (nginx's workers are in its master's): the whole group goes.
    for (const { proc } of procs.reverse()) {
      if (proc.exitCode !== null || proc.signalCode !== null) continue;
      const gone = new Promise((r) => proc.once('exit', r));
      process.kill(-proc.pid!, 'SIGTERM');
      await withTimeout(gone, 5_000, 'exit').catch(() => process.kill(-proc.pid!, 'SIGKILL'));
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
  /** A value as the service sees it on the host: `host:port` of a service → 127.0.0.1 and its mapped port. */
  const onHost = (service: string, key: string, v: string): string => {
    if (key === 'PORT') return String(ports[service]![v] ?? v);
    if (key === 'HOST' && v === '0.0.0.0') return '127.0.0.1';
    return v.replace(/\b([a-z]+|0\.0\.0\.0|127\.0\.0\.1):(\d+)\b/g, (m, host: string, port: string) => {
      const owner = host === '0.0.0.0' || host === '127.0.0.1' ? service : host;
      const mapped = ports[owner]?.[port];
      return mapped ? `127.0.0.1:${mapped}` : m;
    });
  };
  const run = (name: string, argv: string[], env: NodeJS.ProcessEnv) => {
    const proc = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'], cwd: dir, detached: true });
    let out = '';
    proc.stdout!.on('data', (b) => (out += b));
    proc.stderr!.on('data', (b) => (out += b));
    procs.push({ name, proc, out: () => out });
    return proc;
  };
  const roleEnv = (name: string): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH, HOME: process.env.HOME, ...IMAGE_ENV,
    ...Object.fromEntries(Object.entries(services[name]!.environment).map(([k, v]) => [k, onHost(name, k, v)])),
  });
  const healthy = (name: string) => {
    // `host:port` forms first, then the service's own ports written bare (`connect(5555, …)`).
    const bare = (a: string) => Object.entries(ports[name]!).reduce((v, [from, to]) => v.replace(new RegExp(`\\b${from}\\b`, 'g'), String(to)), a);
    const [kind, ...argv] = services[name]!.healthcheck!.map((a) => bare(onHost(name, '', a)));
    assert.equal(kind, 'CMD');
    const cmd = argv[0] === 'node' && argv[1] === 'bin/tickgate.js' ? [...ENTRYPOINT, ...argv.slice(2)] : argv[0] === 'node' ? [process.execPath, ...argv.slice(1)] : argv;
    return spawnSync(cmd[0]!, cmd.slice(1), { env: roleEnv(name), timeout: 10_000, stdio: 'ignore' }).status === 0;
  };

  // Redis, as compose runs it (AOF, noeviction), on loopback and a free port.
  run('redis', [...services.redis!.command, '--port', String(ports.redis![6379]), '--bind', '127.0.0.1', '--dir', dir, '--save', ''], {});
  await until('redis to listen', () => tcpOpen(ports.redis![6379]!), 10_000, 50);

  // The roles, with exactly their compose environment: no JWT_SECRET for the feed and the ingester.
  assert.equal(services.feed!.environment.JWT_SECRET, undefined);
  assert.equal(services.ingester!.environment.JWT_SECRET, undefined);
  run('feed', [...ENTRYPOINT, ...services.feed!.command], roleEnv('feed'));
  run('ingester', [...ENTRYPOINT, ...services.ingester!.command], roleEnv('ingester'));
  for (let i = 0; i < 2; i++) run(`gateway-${i + 1}`, [...ENTRYPOINT, ...services.gateway!.command], roleEnv('gateway'));
  const dump = () => procs.map((p) => `--- ${p.name} (exit ${p.proc.exitCode})\n${p.out()}`).join('\n');
  await until('the gateways ready', async () => (await httpRequest(ports.gateway![8080]!, 'GET', '/readyz', {}).catch(() => undefined))?.status === 200, 30_000, 200)
    .catch((err) => assert.fail(`${err}\n${dump()}`));

  // The balancer: the repository's nginx config, pointed at the host's ports.
  const conf = fs.readFileSync(path.join(ROOT, 'deploy', 'nginx.conf'), 'utf8')
    .replace('server gateway:8080', `server 127.0.0.1:${ports.gateway![8080]}`)
    .replace('listen 8080;', `listen 127.0.0.1:${ports.lb![8080]};`)
    .replaceAll('/tmp/tickgate-nginx', path.join(dir, 'nginx'));
  assert.notEqual(conf, fs.readFileSync(path.join(ROOT, 'deploy', 'nginx.conf'), 'utf8'));
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const lbArgs = services.lb!.command.map((a) => (a === '/etc/tickgate/nginx.conf' ? path.join(dir, 'nginx.conf') : a));
  run('lb', [lbArgs[0]!, '-e', 'stderr', '-p', dir, ...lbArgs.slice(1)], { PATH: process.env.PATH });
  const lb = ports.lb![8080]!;
  await until('the balancer ready', async () => (await httpRequest(lb, 'GET', '/readyz', {}).catch(() => undefined))?.status === 200, 15_000, 100)
    .catch((err) => assert.fail(`${err}\n${dump()}`));

  // The healthchecks compose would run.
  for (const name of ['feed', 'ingester', 'gateway']) assert.ok(await until(`${name} healthcheck`, () => healthy(name), 15_000, 500), name);

  // Through the balancer: register, log in, stream.
  const post = async (p: string, body: unknown) => httpRequest(lb, 'POST', p, { 'content-type': 'application/json' }, JSON.stringify(body));
  const creds = { username: 'composed', password: 'correct-horse' };
  assert.equal((await post('/api/auth/register', creds)).status, 201);
  const login = await post('/api/auth/login', creds);
  assert.equal(login.status, 200);
  const access = JSON.parse(login.text).access_token as string;
  const workers = new Set<string>();
  let streaming: TestClient | undefined;
  for (let i = 0; i < 12 && workers.size < 2; i++) {
    const c = await TestClient.connect(`ws://127.0.0.1:${lb}/ws?access_token=${access}`);
    t.after(() => c.ws.terminate());
    workers.add((await c.nextOfType('welcome')).worker);
    streaming ??= c;
  }
  assert.equal(workers.size, 2, 'the balancer reaches both gateway processes');
  await streaming!.request({ op: 'subscribe', tokens: [256265], mode: 'ltp' });
  const tick = await streaming!.next((m) => m.type === 'tick' && !m.snapshot, 15_000);
  assert.equal(tick.token, 256265);

  // Stopping: the roles exit 0 on SIGTERM, like `docker compose down`.
  for (const p of procs.filter((p) => p.name !== 'redis' && p.name !== 'lb')) {
    p.proc.kill('SIGTERM');
    const code = await withTimeout(new Promise<number | null>((r) => (p.proc.exitCode !== null ? r(p.proc.exitCode) : p.proc.once('exit', (c) => r(c)))), 20_000, `${p.name} to exit`);
    assert.equal(code, 0, `${p.name}\n${p.out()}`);
  }
});
