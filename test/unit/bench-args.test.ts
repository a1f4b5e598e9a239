/** Command-line options of `tickgate bench` and `npm run soak`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { parseBenchArgs } from '../../src/bench/cli.ts';
import { parseSoakArgs } from '../../src/bench/soak.ts';

test('bench defaults: every scenario, baseline and tickgate, 10 s windows, at least two client processes', () => {
  const r = parseBenchArgs([]);
  assert.ok(r.ok === true);
  assert.equal(r.value.only, undefined);
  assert.deepEqual(r.value.targets, ['bare', 'tickgate']);
  assert.equal(r.value.durationS, 10);
  assert.equal(r.value.warmupS, 2);
  assert.ok(r.value.clientProcesses >= 2);
  assert.equal(r.value.rate, undefined);
  assert.match(r.value.outDir, /bench[/\\]results$/);
});

test('bench options: --quick shortens windows, the rest are taken as given', () => {
  const r = parseBenchArgs(['--quick', '--only', 'fanout,storm', '--rate', '8000', '--ramp', '1000,3000', '--clients=3',
    '--connections', '500', '--no-baseline', '--out', 'x/y']);
  assert.ok(r.ok === true);
  assert.deepEqual(r.value, {
    quick: true, only: ['fanout', 'storm'], durationS: 2, warmupS: 0.5, rate: 8_000, rampRates: [1_000, 3_000],
    clientProcesses: 3, connections: 500, targets: ['tickgate'], outDir: path.resolve('x/y'),
  });
});

test('bench refuses unknown scenarios, falling ramps, bad numbers and unknown options', () => {
  for (const argv of [['--only', 'nope'], ['--ramp', '5000,2000'], ['--ramp', '1000,x'], ['--rate', '0'], ['--clients', '1.5'], ['--frobnicate'], ['extra']]) {
    const r = parseBenchArgs(argv);
    assert.equal(r.ok, false, argv.join(' '));
  }
  assert.deepEqual(parseBenchArgs(['-h']), { ok: 'help' });
});

test('soak takes fractional minutes and samples at least a dozen times in a short run', () => {
  const r = parseSoakArgs(['--minutes', '0.5']);
  assert.ok(r.ok === true);
  assert.equal(r.value.minutes, 0.5);
  assert.equal(r.value.intervalS, 2.5);
  const d = parseSoakArgs([]);
  assert.ok(d.ok === true);
  assert.deepEqual({ ...d.value, outDir: '' }, { minutes: 10, rate: 1_000, sockets: 500, churnPerSec: 10, intervalS: 5, outDir: '' });
  const set = parseSoakArgs(['--minutes=60', '--interval', '30', '--churn', '2.5', '--sockets', '0']);
  assert.ok(set.ok === true);
  assert.equal(set.value.intervalS, 30);
  assert.equal(set.value.churnPerSec, 2.5);
  assert.equal(set.value.sockets, 0);
});

test('soak refuses a missing or bad --minutes value', () => {
  assert.equal(parseSoakArgs(['--minutes']).ok, false);
  assert.equal(parseSoakArgs(['--minutes', 'soon']).ok, false);
  assert.equal(parseSoakArgs(['--minutes', '0']).ok, false);
});
