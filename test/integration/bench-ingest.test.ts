/**
 * The ingest-only scenario's own code path, at a low rate: real redis-server, ingester, feed
 * publisher and bare zeromq.js relay processes. Checks that both the ingester and its baseline
 * were measured on the same feed (each received and sent what was published), that the figures
 * are sane, and that nothing is left running; not what the figures are.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { runIngestOnly } from '../../src/bench/ingest-only.ts';

/** Live child processes of this test process of the kinds the scenario starts. */
function children(): string[] {
  const out = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  return out.split('\n').map((l) => l.trim()).filter((l) => /\s(node|redis-server)$/.test(l));
}

const RATE = 1_000;

test('ingest-only measures the ingester and the bare relay on the same feed and leaves no process behind', { timeout: 90_000 }, async () => {
  const r = await runIngestOnly({ rates: [RATE], durationS: 1, quick: true, subscribeAll: true });

  assert.equal(r.steps.length, 1);
  const ing = r.steps[0]!;
  assert.equal(ing.offeredPerS, RATE);
  assert.ok(ing.publishedPerS > RATE / 2, `the publisher sent ${ing.publishedPerS}/s`);
  assert.ok(ing.ticksOutPerS > RATE / 2, `the ingester published ${ing.ticksOutPerS}/s`);
  assert.ok(ing.receivedPerS > RATE / 2, `the subscriber received ${ing.receivedPerS}/s from the ingester`);
  assert.ok(Number.isFinite(ing.ingesterUsPerTick) && ing.ingesterUsPerTick > 0, `ingester ${ing.ingesterUsPerTick} µs/tick`);

  assert.ok(r.relay, 'the baseline ran');
  assert.equal(r.relay.steps.length, 1);
  const relay = r.relay.steps[0]!;
  assert.equal(relay.offeredPerS, RATE);
  assert.ok(relay.receivedPerS > RATE / 2, `the relay received ${relay.receivedPerS}/s`);
  // With a subscriber on its XPUB it forwards every message it receives.
  assert.ok(relay.sentPerS > relay.receivedPerS * 0.9, `the relay forwarded ${relay.sentPerS}/s of ${relay.receivedPerS}/s`);
  assert.ok(Number.isFinite(relay.relayUsPerTick) && relay.relayUsPerTick > 0, `relay ${relay.relayUsPerTick} µs/tick`);
  // No 10,000 ticks/s step: no ratio at it.
  assert.equal(r.ratioToRelayAt10k, undefined);

  assert.deepEqual(children(), [], 'no ingester, relay, publisher or redis-server left');
});
