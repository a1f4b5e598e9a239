/**
 * The benchmark's own code path on a tiny scenario: real redis-server, ingester and gateway child
 * processes, real sockets. Checks that the numbers it reports are sane and that it leaves no
 * process behind, not what they are.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runBench } from '../../src/bench/run.ts';
import type { Scenario } from '../../src/bench/scenarios.ts';

const tiny: Scenario = {
  name: 'smoke', about: 'bench smoke test',
  connections: 20, tokens: 5, tokensPerConnection: 2, mode: 'quote', ratePerSec: 200,
};

/** Live child processes of this test process of the kinds the bench starts: node (ingester, gateway) and redis-server. */
function serverChildren(): string[] {
  const out = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  return out.split('\n').map((l) => l.trim()).filter((l) => /\s(node|redis-server)$/.test(l));
}

test('a tiny scenario reports sane numbers, writes its JSON and leaves no process behind', { timeout: 60_000 }, async (t) => {
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickgate-bench-out-'));
  t.after(() => fs.rmSync(outDir, { recursive: true, force: true }));

  const { report, file } = await runBench({ scenarios: [tiny], outDir, durationS: 2, warmupS: 0.5 });

  assert.deepEqual(report.failures, []);
  assert.equal(report.scenarios.length, 1);
  const r = report.scenarios[0]!;
  assert.equal(r.connections, 20);
  assert.ok(r.publishedTicksPerSec > 0, 'the feed published');
  assert.ok(r.deliveredMsgsPerSec > 0, 'clients received messages');
  // 200 ticks/s over 5 tokens, 8 subscribers each: about 1,600 deliveries per second.
  assert.ok(r.deliveryRatio > 0.5 && r.deliveryRatio < 1.5, `delivery ratio ${r.deliveryRatio}`);
  assert.ok(r.latencyMs.samples > 0);
  assert.ok(r.latencyMs.p50 >= 0 && r.latencyMs.p50 <= r.latencyMs.p99 && r.latencyMs.p99 <= r.latencyMs.max, JSON.stringify(r.latencyMs));
  assert.ok(r.serverCpuSecPerMillionMsgs !== null && r.serverCpuSecPerMillionMsgs > 0, 'server CPU per million messages');
  assert.ok(r.gatewayRssKiB.before > 0 && r.gatewayRssKiB.after > 0);
  assert.ok(Number.isFinite(r.rssPerConnectionKiB));
  assert.ok(r.client.cpuS > 0);
  assert.deepEqual(r.closes, {});

  assert.equal(path.dirname(file), outDir);
  assert.match(path.basename(file), /^\d{4}-\d{2}-\d{2}\.json$/);
  assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), report);

  assert.deepEqual(serverChildren(), [], 'every process the bench started has exited');
});
