/**
 * CURVE on the control plane (issue 10, finding 7): with ZMQ_CURVE_DIR set, the ingester's control
 * REP and ingest XPUB admit only clients whose public key is listed. A client without a key, or
 * with a key that is not listed, gets no connection at all: no reply, no ticks, nothing changed.
 * Production refuses a non-loopback bind without CURVE.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as zmq from 'zeromq';
import { runCtl } from '../../src/ctl/ctl.ts';
import { runTap } from '../../src/ctl/tap.ts';
import { ControlClient, NoReplyError } from '../../src/ctl/request.ts';
import { loadClientCurve, clientOptions, type ClientCurve } from '../../src/zmq/curve.ts';
import { startSystem, TEST_JWT_SECRET } from '../helpers/system.ts';

const keys = fs.mkdtempSync(path.join(os.tmpdir(), 'tickgate-curve-'));
const rogueDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickgate-rogue-'));
after(() => {
  fs.rmSync(keys, { recursive: true, force: true });
  fs.rmSync(rogueDir, { recursive: true, force: true });
});
const quiet = { out: () => {}, err: (l: string) => console.error(l) };
// `ctl keygen DIR` twice: the ingester's pair, then this host's client pair.
assert.equal(await runCtl(['keygen', keys], 'ipc:///unused', quiet), 0);
assert.equal(await runCtl(['keygen', keys], 'ipc:///unused', quiet), 0);
// A rogue client that knows the server's public key but holds a key pair of its own.
fs.copyFileSync(path.join(keys, 'server.pub'), path.join(rogueDir, 'server.pub'));
assert.equal(await runCtl(['keygen', rogueDir, 'client'], 'ipc:///unused', quiet), 0);

const sys = await startSystem({ after }, { simulator: true, env: { ZMQ_CURVE_DIR: keys, SIM_TOKENS: '5', SIM_RATE: '200' } });
const allowed = loadClientCurve(keys);
const rogue = loadClientCurve(rogueDir);

async function ask(curve: ClientCurve | undefined, request: object): Promise<Record<string, unknown> | 'no reply'> {
  const c = new ControlClient(sys.config.controlBind, 1_500, curve);
  try {
    return await c.send(request);
  } catch (err) {
    if (err instanceof NoReplyError) return 'no reply';
    throw err;
  } finally {
    c.close();
  }
}

/** Everything a raw SUB on the ingest endpoint receives within `ms`. */
async function listen(curve: ClientCurve | undefined, ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  const sub = new zmq.Subscriber({ ...(curve ? clientOptions(curve) : {}), linger: 0 });
  sub.connect(sys.config.ingestBind);
  sub.subscribe();
  let n = 0;
  try {
    while (Date.now() < deadline) {
      sub.receiveTimeout = Math.max(1, deadline - Date.now());
      await sub.receive();
      n++;
    }
  } catch {
    // EAGAIN: the time is up
  } finally {
    sub.close();
  }
  return n;
}

test('key files: the secret keys are private to their owner', () => {
  assert.equal(fs.statSync(path.join(keys, 'server.key')).mode & 0o077, 0);
  assert.equal(fs.statSync(path.join(keys, 'client.key')).mode & 0o077, 0);
  assert.equal(fs.readFileSync(path.join(keys, 'server.pub'), 'utf8').trim().length, 40);
});

test('a control client with an allowed key is answered; one without a key or with an unlisted key gets no reply and changes nothing', async () => {
  const status = await ask(allowed, { cmd: 'status' });
  assert.notEqual(status, 'no reply');
  assert.equal((status as Record<string, unknown>).ok, true);
  assert.equal(await ask(undefined, { cmd: 'pause' }), 'no reply');
  assert.equal(await ask(rogue, { cmd: 'pause' }), 'no reply');
  const after = await ask(allowed, { cmd: 'status' });
  assert.deepEqual((after as Record<string, unknown>).paused, [], 'nothing was paused');
});

test('a gateway with the allowed key streams ticks; a subscriber without one, or with an unlisted one, receives nothing', async () => {
  const u = await sys.user();
  const c = await sys.connect(u.access);
  const token = sys.simulator!.instruments[0]!.token;
  await c.request({ op: 'subscribe', tokens: [token], mode: 'ltp' });
  await c.next((m) => m.type === 'tick' && m.token === token && !m.snapshot, 5_000);
  const [withKey, without, unlisted] = await Promise.all([listen(allowed, 2_500), listen(undefined, 2_500), listen(rogue, 2_500)]);
  assert.ok(withKey > 0, `an admitted subscriber hears the ingester (${withKey} messages)`);
  assert.equal(without, 0);
  assert.equal(unlisted, 0);
});

test('with NODE_ENV=production the ingester refuses a 0.0.0.0 bind without ZMQ_CURVE_DIR, naming the variable', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'ingester'], {
    env: {
      ...process.env, NODE_ENV: 'production', JWT_SECRET: TEST_JWT_SECRET, REDIS_URL: 'redis://127.0.0.1:1',
      CONTROL_BIND: 'tcp://0.0.0.0:45557', INGEST_BIND: 'tcp://127.0.0.1:45556', LOG_LEVEL: 'silent', ZMQ_CURVE_DIR: '',
    },
    encoding: 'utf8', timeout: 20_000,
  });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /CONTROL_BIND/);
  assert.doesNotMatch(r.stderr, /INGEST_BIND/, 'a loopback bind is fine');
});

test('ctl tap on the ingest endpoint uses the client key: it decodes ticks with the key, hears nothing without it', async () => {
  const token = sys.simulator!.instruments[1]!.token;
  const lines: string[] = [];
  const io = { out: (l: string) => lines.push(l), err: () => {} };
  assert.equal(await runTap(['--count', '3', '--idle', '5', String(token)], sys.config.ingestBind, io, keys), 0);
  // Three messages: ticks of the token and the ingester's broadcasts, decoded.
  assert.ok(lines.some((l) => l.includes(`tick ${token} seq `)), lines.join('\n'));
  const none: string[] = [];
  assert.equal(await runTap(['--idle', '1', String(token)], sys.config.ingestBind, { out: (l) => none.push(l), err: () => {} }), 3);
  assert.deepEqual(none, []);
});
