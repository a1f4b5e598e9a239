/**
 * `tickgate ctl tap` (§1), as a child process: it shows the simulator's ticks on the feed and on
 * the ingester's XPUB (decoded: token, seq, epoch), only the tokens asked for, and says so when an
 * endpoint is silent.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { startSystem } from '../helpers/system.ts';

const sys = await startSystem({ after }, { simulator: true });
const BIN = path.resolve(import.meta.dirname, '../../bin/tickgate.js');

function tap(args: string[]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const p = spawn(process.execPath, [BIN, 'ctl', 'tap', ...args], { env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const kill = setTimeout(() => p.kill('SIGKILL'), 20_000);
    p.on('close', (code) => {
      clearTimeout(kill);
      resolve({ code, stdout, stderr });
    });
  });
}

test("tap --feed shows the simulator's ticks, decoded, one line each", async () => {
  const r = await tap(['--feed', sys.feedEndpoint, '--count', '20']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 20);
  for (const l of lines) assert.match(l, /^\d\d:\d\d:\d\d\.\d{3} feed \d+ \{.*"ltp":/);
  assert.match(r.stderr, /20 messages in [\d.]+ s \([\d.]+\/s\), 0 invalid/);
});

test('tap --ingest TOKEN shows only that token, with seq and epoch, and counts no drops', async () => {
  const { body } = await sys.http('GET', '/api/instruments');
  const token = body[0]?.token ?? 256265;
  const r = await tap(['--ingest', sys.config.ingestBind, String(token), '--count', '8']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 8);
  // Besides the token's ticks, the tap shows the ingester's broadcasts (its heartbeats).
  const ticks = lines.filter((l) => !/ broadcast \{/.test(l));
  assert.ok(ticks.length >= 3, `${ticks.length} ticks in ${lines.length} lines`);
  for (const l of ticks) assert.match(l, new RegExp(`^\\S+ tick ${token} seq \\d+ epoch [0-9a-f]{8} \\{"type":"tick","token":${token},`));
  assert.match(r.stderr, /8 messages .* 0 dropped/);
});

test('a silent endpoint: "no messages within N s" and exit status 3', async () => {
  const r = await tap(['--ingest', `ipc://${sys.dir}/nobody.sock`, '--idle', '1']);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /no messages within 1 s/);
  assert.equal(r.stdout, '');
});
