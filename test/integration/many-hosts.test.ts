/**
 * Issue 9 acceptance, "many hosts": two gateway processes bound to different loopback addresses
 * (127.0.0.2 and 127.0.0.3, as two machines would be) share only Redis and the ingester's
 * endpoint (tcp). Both stream; the ingester's demand is the union of theirs; a logout on one
 * closes the session's sockets on the other; REST subscriptions reach both.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/start/embedded-redis.ts';
import { httpRequest, startSystem, TEST_JWT_SECRET } from '../helpers/system.ts';
import { until } from '../helpers/wait.ts';
import { TestClient } from '../helpers/ws-client.ts';

const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'main.ts');
const [NIFTY, BANK, RELIANCE] = [256265, 260105, 738561];

const ingestPort = await freePort();
const sys = await startSystem({ after }, { gateways: 0, simulator: true, env: { INGEST_BIND: `tcp://127.0.0.1:${ingestPort}` } });

async function startHost(host: string) {
  const port = await freePort(host);
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN, 'gateway'], {
    env: {
      ...process.env, REDIS_URL: sys.redisServer.url, INGEST_BIND: `tcp://127.0.0.1:${ingestPort}`, JWT_SECRET: TEST_JWT_SECRET,
      HOST: host, PORT: String(port), LOG_LEVEL: 'warn', DRAIN_MS: '500',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  after(() => proc.kill('SIGKILL'));
  const req = async (method: string, p: string, body?: unknown, token?: string) => {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    const r = await httpRequestOn(host, port, method, p, headers, body === undefined ? undefined : JSON.stringify(body));
    return { status: r.status, body: r.text ? JSON.parse(r.text) : undefined };
  };
  await until(`the gateway on ${host} ready`, async () => (await req('GET', '/readyz').catch(() => undefined))?.status === 200, 20_000, 100);
  return {
    host, port, req,
    async connect(access: string) {
      const c = await TestClient.connect(`ws://${host}:${port}/ws?access_token=${access}`);
      after(() => c.ws.terminate());
      await c.nextOfType('welcome');
      return c;
    },
  };
}

/** httpRequest, to a host other than 127.0.0.1. */
async function httpRequestOn(host: string, port: number, method: string, p: string, headers: Record<string, string>, body?: string) {
  if (host === '127.0.0.1') return httpRequest(port, method, p, headers, body);
  const r = await fetch(`http://${host}:${port}${p}`, { method, headers, body });
  return { status: r.status, text: await r.text() };
}

const a = await startHost('127.0.0.2');
const b = await startHost('127.0.0.3');

test('gateways on two hosts both stream, and the ingester demand is the union of theirs', { timeout: 30_000 }, async () => {
  const creds = { username: 'twohosts', password: 'correct-horse' };
  assert.equal((await a.req('POST', '/api/auth/register', creds)).status, 201);
  const { access_token: access } = (await b.req('POST', '/api/auth/login', creds)).body;
  const onA = await a.connect(access);
  const onB = await b.connect(access);
  await onA.request({ op: 'subscribe', tokens: [NIFTY], mode: 'ltp' });
  await onB.request({ op: 'subscribe', tokens: [BANK], mode: 'ltp' });
  await until('the ingester to want both tokens', () => sys.ingester.demand.has(NIFTY) && sys.ingester.demand.has(BANK), 5_000);
  assert.ok(!sys.ingester.demand.has(RELIANCE), 'nothing nobody asked for');
  assert.equal((await onA.next((m) => m.type === 'tick' && !m.snapshot, 10_000)).token, NIFTY);
  assert.equal((await onB.next((m) => m.type === 'tick' && !m.snapshot, 10_000)).token, BANK);
});

test('REST subscriptions reach the session on both hosts, and a logout on one closes its sockets on the other', { timeout: 30_000 }, async () => {
  const creds = { username: 'roaming', password: 'correct-horse' };
  assert.equal((await b.req('POST', '/api/auth/register', creds)).status, 201);
  const { access_token: access } = (await a.req('POST', '/api/auth/login', creds)).body;
  const onA = await a.connect(access);
  const onB = await b.connect(access);
  const sub = await a.req('POST', '/api/subscriptions', { tokens: [RELIANCE], mode: 'ltp' }, access);
  assert.deepEqual(sub, { status: 200, body: { connections: 2 } });
  for (const c of [onA, onB]) assert.equal((await c.next((m) => m.type === 'tick' && m.token === RELIANCE && !m.snapshot, 10_000)).token, RELIANCE);
  assert.equal((await a.req('POST', '/api/auth/logout', undefined, access)).status, 204);
  assert.equal((await onB.waitClose()).code, 4003, 'the socket on the other host closed');
  assert.equal((await onA.waitClose()).code, 4003);
});
