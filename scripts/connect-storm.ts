/**
 * Connect storm and idle-memory probe for the gateway (issue 12 items 3 and 4). Not part of the
 * bench suite: a tool for measuring the cost of a socket.
 *
 * Starts a private redis-server, an ingester and WORKERS gateway processes (like src/bench/servers.ts),
 * makes N users each with a session and an access token directly in Redis (no bcrypt), then forks
 * PROCS client processes that open the sockets together and subscribe each to one token. Reports
 * the wall time from "go" to the last `subscribed` ack, the gateways' CPU seconds, Redis commands
 * per connect (INFO commandstats), and gateway RSS per socket after the sockets settled.
 *
 *   node --import tsx scripts/connect-storm.ts --sockets 10000 --procs 4 [--workers 1]
 *     [--per-user K] [--in-flight 100] [--heap DIR] [--hold-s 0]
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { createSession } from '../src/auth/sessions.ts';
import { AccessTokens } from '../src/auth/tokens.ts';
import { cpuSeconds, rssKiB } from '../src/bench/proc-stats.ts';
import { freePort, startEmbeddedRedis } from '../src/start/embedded-redis.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const MAIN = path.join(here, '..', 'src', 'main.ts');
const TSX = import.meta.resolve('tsx');

const { values: a } = parseArgs({
  options: {
    sockets: { type: 'string', default: '5000' },
    procs: { type: 'string', default: '4' },
    workers: { type: 'string', default: '1' },
    'per-user': { type: 'string', default: '1' },
    'in-flight': { type: 'string', default: '100' },
    heap: { type: 'string' },
    prof: { type: 'string' },
    probe: { type: 'boolean', default: false },
    'node-flag': { type: 'string', multiple: true, default: [] },
    'hold-s': { type: 'string', default: '0' },
    'settle-s': { type: 'string', default: '5' },
  },
});
const N = Number(a.sockets);
const PROCS = Number(a.procs);
const WORKERS = Number(a.workers);
const PER_USER = Number(a['per-user']);
const IN_FLIGHT = Number(a['in-flight']);

const children: ChildProcess[] = [];
process.once('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

/** Signals every gateway to write a heap snapshot and waits until the files are complete. */
async function heapSnapshots(pids: number[]): Promise<void> {
  const dir = path.resolve(a.heap!);
  const before = new Set(fs.readdirSync(dir));
  for (const p of pids) process.kill(p, 'SIGUSR2');
  const complete = (f: string) => {
    const fd = fs.openSync(path.join(dir, f), 'r');
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.alloc(Math.min(size, 16));
    fs.readSync(fd, buf, 0, buf.length, Math.max(0, size - buf.length));
    fs.closeSync(fd);
    return buf.toString().trimEnd().endsWith(']}');
  };
  for (const t = Date.now(); Date.now() - t < 120_000; await sleep(500)) {
    const fresh = fs.readdirSync(dir).filter((f) => !before.has(f));
    if (fresh.length >= pids.length && fresh.every(complete)) return;
  }
  throw new Error('heap snapshot not written within 120 s');
}

const loadavg = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'storm-'));
  const redisServer = await startEmbeddedRedis(path.join(dir, 'redis'));
  children.push(redisServer.child);
  const secret = randomBytes(36).toString('base64url');
  const [port, ingestPort, controlPort, feedPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    REDIS_URL: redisServer.url, JWT_SECRET: secret, HOST: '127.0.0.1', PORT: String(port),
    FEED_ENDPOINTS: `tcp://127.0.0.1:${feedPort}`, INGEST_BIND: `tcp://127.0.0.1:${ingestPort}`, CONTROL_BIND: `tcp://127.0.0.1:${controlPort}`,
    DATA_DIR: dir, LOG_LEVEL: 'warn',
    MAX_SOCKETS_PER_USER: '100000', CONN_RATE_PER_IP: '10000000', MAX_CONNS_PER_IP: '10000000', MAX_CONNS: '10000000', DRAIN_MS: '1000',
  };
  const spawnRole = (role: string, extra: string[] = []) => {
    const c = spawn(process.execPath, [...extra, '--import', TSX, MAIN, role], { env, stdio: ['ignore', 'inherit', 'inherit'] });
    children.push(c);
    return c;
  };
  spawnRole('ingester');
  const heapFlags = a.heap ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${path.resolve(a.heap)}`] : [];
  if (a.prof) heapFlags.push('--cpu-prof', `--cpu-prof-dir=${path.resolve(a.prof)}`);
  heapFlags.push(...(a['node-flag'] ?? []));
  if (a.probe) {
    heapFlags.push('--expose-gc', '--import', path.join(here, 'memory-probe.mjs'));
    env.MEMORY_PROBE_DIR = dir;
  }
  if (a.heap) fs.mkdirSync(a.heap, { recursive: true });
  const gateways = Array.from({ length: WORKERS }, () => spawnRole('gateway', heapFlags));
  for (let t = Date.now(); ; await sleep(100)) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200) break;
    } catch { /* not yet */ }
    if (Date.now() - t > 30_000) throw new Error('gateway not ready');
  }

  const redis = new Redis(redisServer.url);
  const tokens = new AccessTokens(secret, 900);
  const access: string[] = [];
  const users = Math.ceil(N / PER_USER);
  for (let u = 0; u < users; u++) {
    const user = { id: randomUUID(), username: `storm_${u}` };
    const { sid } = await createSession(redis, user, { refreshTtlS: 3600, maxAgeS: 3600 });
    const { token } = await tokens.issue(user.id, sid);
    for (let k = 0; k < PER_USER && access.length < N; k++) access.push(token);
  }

  const clients = await Promise.all(Array.from({ length: PROCS }, () => new Promise<ChildProcess>((resolve) => {
    const c = fork(path.join(here, 'storm-client.ts'), [], { execArgv: ['--import', TSX] });
    children.push(c);
    c.once('message', () => resolve(c));
  })));

  const gwPids = gateways.map((g) => g.pid!);
  const cpu = () => gwPids.reduce((s, p) => s + cpuSeconds(p), 0);
  const rss = () => gwPids.reduce((s, p) => s + rssKiB(p), 0);
  const commandStats = async () => {
    const info = await redis.info('commandstats');
    const out: Record<string, number> = {};
    for (const m of info.matchAll(/^cmdstat_(\w+(?:\|\w+)?):calls=(\d+)/gm)) out[m[1]!] = Number(m[2]);
    return out;
  };
  await sleep(1_000);
  if (a.heap) await heapSnapshots(gwPids);
  const rss0 = rss();
  const cpu0 = cpu();
  const stats0 = await commandStats();
  const load0 = loadavg();

  const go = Date.now();
  const per = Math.ceil(N / PROCS);
  const results = await Promise.all(clients.map((c, i) => new Promise<any>((resolve) => {
    c.once('message', (m: any) => resolve(m.done));
    c.send({ go: { url: `ws://127.0.0.1:${port}/ws`, tokens: access.slice(i * per, (i + 1) * per), inFlight: Math.ceil(IN_FLIGHT / PROCS), subBase: 1000, subCount: 500 } });
  })));
  const wallMs = Date.now() - go;
  const cpu1 = cpu();
  const stats1 = await commandStats();
  const ok = results.reduce((s, r) => s + r.ok, 0);
  const failures: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.failures as Record<string, number>)) failures[k] = (failures[k] ?? 0) + v;
  const cmds: Record<string, number> = {};
  for (const [k, v] of Object.entries(stats1)) if (v - (stats0[k] ?? 0) > 0) cmds[k] = v - (stats0[k] ?? 0);
  delete cmds.info;
  const totalCmds = Object.values(cmds).reduce((s, v) => s + v, 0);

  await sleep(Number(a['settle-s']) * 1000);
  const rss1 = rss();
  let probe: unknown;
  if (a.probe) {
    for (const p of gwPids) process.kill(p, 'SIGWINCH');
    const file = path.join(dir, `mem-${gwPids[0]}.json`);
    for (let t = Date.now(); !fs.existsSync(file) && Date.now() - t < 20_000; await sleep(200));
    await sleep(200);
    const m = JSON.parse(fs.readFileSync(file, 'utf8'));
    const kib = (x: number) => Math.round(x / 1024);
    probe = {
      heapUsedMiB: [m.before.heapUsed, m.after.heapUsed].map((x: number) => +(x / 1048576).toFixed(1)),
      heapTotalMiB: [m.before.heapTotal, m.after.heapTotal].map((x: number) => +(x / 1048576).toFixed(1)),
      rssMiB: [m.before.rss, m.after.rss].map((x: number) => +(x / 1048576).toFixed(1)),
      externalMiB: +(m.after.external / 1048576).toFixed(1),
      spacesKiB: Object.fromEntries(Object.entries(m.spaces as Record<string, { size: number; used: number }>).map(([k, v]) => [k, [kib(v.size), kib(v.used)]])),
    };
  }
  if (a.heap) await heapSnapshots(gwPids);
  const out = {
    sockets: N, ok, failures, procs: PROCS, workers: WORKERS, perUser: PER_USER, inFlight: IN_FLIGHT,
    wallMs, gatewayCpuS: +(cpu1 - cpu0).toFixed(2), cpuMsPerConnect: +(((cpu1 - cpu0) * 1000) / N).toFixed(3),
    clientCpuS: +results.reduce((s, r) => s + (r.cpu.user + r.cpu.system) / 1e6, 0).toFixed(2),
    redisCmdsPerConnect: +(totalCmds / N).toFixed(2), redisCmds: Object.fromEntries(Object.entries(cmds).map(([k, v]) => [k, +(v / N).toFixed(3)])),
    rssBeforeMiB: +(rss0 / 1024).toFixed(1), rssAfterMiB: +(rss1 / 1024).toFixed(1), rssPerSocketKiB: +((rss1 - rss0) / N).toFixed(2),
    loadBefore: load0, loadAfter: loadavg(), probe,
  };
  console.log(JSON.stringify(out));
  if (Number(a['hold-s']) > 0) await sleep(Number(a['hold-s']) * 1000);
  for (const c of clients) c.send({ exit: true });
  for (const g of gateways) g.kill('SIGTERM');
  await Promise.race([Promise.all(gateways.map((g) => new Promise((r) => (g.exitCode !== null ? r(0) : g.once('exit', r))))), sleep(15_000)]);
  redis.disconnect();
  for (const c of children) if (c.exitCode === null && c !== redisServer.child) c.kill('SIGKILL');
  await redisServer.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}
main().catch((err) => {
  console.error(err);
  process.exit(1);
});
