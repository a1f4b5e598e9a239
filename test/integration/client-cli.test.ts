/**
 * `tickgate client` as a person runs it, as a child process against a real gateway: register,
 * login (session file 0600), watch --json prints exactly the requested tokens, the table renders
 * under a pseudo-terminal, and failures are one line with a non-zero exit.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startCountingFeed } from '../helpers/control.ts';
import { freePort } from '../helpers/free-port.ts';
import { startSystem } from '../helpers/system.ts';
import { until } from '../helpers/wait.ts';

const sys = await startSystem({ after });
const feed = await startCountingFeed({ after }, sys.feedEndpoint);
const BIN = path.resolve(import.meta.dirname, '../../bin/tickgate.js');
const configFile = path.join(sys.dir, 'client', 'session.json');

function env(extra: Record<string, string> = {}) {
  const e: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: sys.dir, TICKGATE_URL: sys.baseUrl, TICKGATE_CONFIG: configFile, LOG_LEVEL: 'silent', ...extra };
  return e;
}

/** Runs the CLI to completion. */
function run(args: string[], extra: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const p = spawn(process.execPath, [BIN, 'client', ...args], { env: env(extra) });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts a long-running command; returns its growing output and a stop() that sends SIGINT. */
function start(cmd: string, args: string[], extra: Record<string, string> = {}) {
  const p = spawn(cmd, args, { env: env(extra) });
  const out = { stdout: '', stderr: '' };
  p.stdout.on('data', (d) => (out.stdout += d));
  p.stderr.on('data', (d) => (out.stderr += d));
  const exited = new Promise<number | null>((resolve) => p.on('close', (code) => resolve(code)));
  after(() => p.kill('SIGKILL'));
  return { out, exited, stop: () => (p.kill('SIGINT'), exited) };
}

const plain = (screen: string) => screen.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');

let ticking = true;
const tokens = [8101, 8102, 8103];
const publishing = (async () => {
  while (ticking) {
    for (const t of tokens) await feed.tick(t);
    await new Promise((r) => setTimeout(r, 20));
  }
})();
after(async () => {
  ticking = false;
  await publishing;
});

test('register and login save a session file readable by its owner only', async () => {
  const reg = await run(['register', '--user', 'cli_alice', '--password', 'correct-horse-battery']);
  assert.equal(reg.code, 0, reg.stderr);
  const login = await run(['login', '--user', 'cli_alice'], { TICKGATE_PASSWORD: 'correct-horse-battery' });
  assert.equal(login.code, 0, login.stderr);
  assert.equal(fs.statSync(configFile).mode & 0o777, 0o600);
  const saved = JSON.parse(fs.readFileSync(configFile, 'utf8'));
  assert.equal(saved.sessions[sys.baseUrl].username, 'cli_alice');
});

test('watch --json prints ticks of exactly the requested tokens, one per line', async () => {
  const w = start(process.execPath, [BIN, 'client', 'watch', '8101', '8103', '--json', '--mode', 'ltp']);
  await until('ticks of both tokens', () => {
    const seen = new Set(w.out.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l).token));
    return seen.has(8101) && seen.has(8103);
  }, 15_000);
  assert.equal(await w.stop(), 0);
  const lines = w.out.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  assert.ok(lines.length >= 2);
  for (const t of lines) {
    assert.equal(t.type, 'tick');
    assert.ok(t.token === 8101 || t.token === 8103, `unexpected token ${t.token}`);
    assert.deepEqual(Object.keys(t).filter((k) => !['type', 'token', 'seq', 'ts', 'ltp', 'snapshot'].includes(k)), [], 'ltp mode fields only');
  }
});

test('watch renders a live table in a pseudo-terminal showing the tokens', async () => {
  const cmd = `${process.execPath} ${BIN} client watch 8101 8102`;
  const w = start('script', ['-qfc', cmd, '/dev/null'], { TERM: 'xterm', NO_COLOR: '' });
  await until('a table with both tokens, values and up/down colours', () => /8101\s+\d+\.\d{2}/.test(plain(w.out.stdout)) && /8102\s+\d+\.\d{2}/.test(plain(w.out.stdout)) && /\x1b\[3[12]m/.test(w.out.stdout), 15_000)
    .catch((err: Error) => assert.fail(`${err.message}; the screen: ${JSON.stringify(w.out.stdout.slice(-600))} stderr: ${w.out.stderr}`));
  assert.match(plain(w.out.stdout), /token\s+last\s+chg%\s+bid\s+ask\s+volume\s+status\s+ticks\/s\s+lag ms/);
  assert.match(w.out.stdout, /\x1b\[2J/, 'the screen is redrawn');
  assert.doesNotMatch(plain(w.out.stdout), /8103\s+\d/);
  await w.stop();
  assert.doesNotMatch(w.out.stdout, /error/i);
});

test('NO_COLOR: the table on a terminal has no colours', async () => {
  const w = start('script', ['-qfc', `${process.execPath} ${BIN} client watch 8102`, '/dev/null'], { TERM: 'xterm', NO_COLOR: '1' });
  await until('a value for 8102', () => /8102\s+\d+\.\d{2}/.test(plain(w.out.stdout)), 15_000);
  await w.stop();
  assert.doesNotMatch(w.out.stdout, /\x1b\[3\dm/);
});

test('with stdout not a terminal, watch prints plain lines, one per tick, no escape codes', async () => {
  const w = start(process.execPath, [BIN, 'client', 'watch', '8102']);
  await until('two lines', () => w.out.stdout.split('\n').length > 2, 15_000);
  assert.equal(await w.stop(), 0);
  const lines = w.out.stdout.trim().split('\n');
  for (const l of lines) assert.match(l, /^8102\t\d+\.\d{2}\t/);
  assert.doesNotMatch(w.out.stdout, /\x1b/);
});

test('bad credentials: one line on stderr and a non-zero exit', async () => {
  const r = await run(['login', '--user', 'cli_alice', '--password', 'wrong-password-here']);
  assert.notEqual(r.code, 0);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /bad credentials/);
});

test('server down: one line on stderr and a non-zero exit', async () => {
  const port = await freePort();
  const r = await run(['login', '--user', 'cli_alice', '--password', 'correct-horse-battery', '--url', `http://127.0.0.1:${port}`]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /server down/);
});

test('a revoked session ends watch with one line and a non-zero exit; logout without a session fails', async () => {
  const w = start(process.execPath, [BIN, 'client', 'watch', '8101', '--json']);
  await until('a tick', () => w.out.stdout.includes('"token":8101'), 15_000);
  const out = await run(['logout']);
  assert.equal(out.code, 0, out.stderr);
  assert.equal(await w.exited, 1);
  assert.match(w.out.stderr, /session revoked/);
  const again = await run(['logout']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /not logged in/);
});
