/**
 * The benchmark's own code path on a tiny fan-out: real redis-server, ingester, gateway, bare
 * uWebSockets.js server and client processes, real sockets. Checks that the numbers it reports
 * are sane, that tickgate gets its ratios to the baseline, and that it leaves no process behind,
 * not what the numbers are.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runBench } from '../../src/bench/run.ts';
import { fanoutSteady } from '../../src/bench/scenario-fanout.ts';

/** Live child processes of this test process of the kinds the bench starts: node (servers, clients) and redis-server. */
function serverChildren(): string[] {
  const out = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  return out.split('\n').map((l) => l.trim()).filter((l) => /\s(node|redis-server)$/.test(l));
}

test('a tiny fan-out reports sane numbers for both servers, ratios for tickgate, writes its JSON and leaves no process behind', { timeout: 90_000 }, async (t) => {
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickgate-bench-out-'));
  t.after(() => fs.rmSync(outDir, { recursive: true, force: true }));

  const { report, file } = await runBench({
    scenarios: [fanoutSteady], outDir, durationS: 1.5, warmupS: 0.2, quick: true, connections: 20, rate: 200,
    clientProcesses: 2, targets: ['bare', 'tickgate'], signal: new AbortController().signal,
  });

  assert.deepEqual(report.failures, []);
  const s = report.scenarios[0]!;
  assert.deepEqual(s.measurements.map((m) => m.target), ['bare', 'tickgate']);
  for (const m of s.measurements) {
    assert.equal(m.connections, 20);
    assert.equal(m.clientCores.length, 2, 'one CPU figure per client process');
    assert.ok(m.publishedTicksPerSec > 0, 'the feed published');
    // 200 ticks/s over 100 tokens, 2 subscribers each: about 400 deliveries per second.
    assert.ok(m.deliveryRatio > 0.5 && m.deliveryRatio < 1.5, `${m.target} delivery ratio ${m.deliveryRatio}`);
    assert.ok(m.latencyMs.samples > 0);
    assert.ok(m.latencyMs.p50 <= m.latencyMs.p99 && m.latencyMs.p99 <= m.latencyMs.max, JSON.stringify(m.latencyMs));
    assert.ok(m.serverCpuSecPerMillionMsgs !== null && m.serverCpuSecPerMillionMsgs > 0, 'server CPU per million messages');
    assert.ok(m.serverRssKiB > 0);
    assert.deepEqual(m.closes, {});
    assert.equal(m.serverLogLines, 0, `${m.target} logged warnings or errors`);
  }
  assert.deepEqual(Object.keys(s.measurements[1]!.serverCpuS).sort(), ['gateway', 'ingester', 'redis']);
  const ratios = s.measurements[1]!.ratios!;
  assert.ok(ratios.delivered! > 0 && ratios.p99! > 0 && ratios.cpuPerMsg! > 0, JSON.stringify(ratios));

  assert.equal(path.dirname(file), outDir);
  assert.match(path.basename(file), /^\d{4}-\d{2}-\d{2}\.json$/);
  assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), report);

  assert.deepEqual(serverChildren(), [], 'every process the bench started has exited');
});
