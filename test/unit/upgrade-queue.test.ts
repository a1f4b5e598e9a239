import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UpgradeQueue } from '../../src/gateway/upgrade-queue.ts';

/** A piece of work that runs until `finish` is called. */
function work(log: string[], name: string) {
  let finish!: () => void;
  const done = new Promise<void>((r) => { finish = r; });
  return { run: () => { log.push(`start ${name}`); return done.then(() => { log.push(`end ${name}`); }); }, finish };
}

const settle = () => new Promise((r) => setImmediate(r));

test('at most `limit` run at once; the rest start first come first served as places free', async () => {
  const q = new UpgradeQueue(2);
  const log: string[] = [];
  const jobs = ['a', 'b', 'c', 'd', 'e'].map((n) => work(log, n));
  for (const j of jobs) q.enqueue(j.run, () => true);
  assert.deepEqual(log, ['start a', 'start b']);
  assert.equal(q.size, 5);
  jobs[1]!.finish();
  await settle();
  assert.deepEqual(log, ['start a', 'start b', 'end b', 'start c']);
  jobs[0]!.finish();
  await settle();
  jobs[2]!.finish();
  await settle();
  assert.deepEqual(log.slice(4), ['end a', 'start d', 'end c', 'start e']);
  jobs[3]!.finish();
  jobs[4]!.finish();
  await settle();
  assert.equal(q.size, 0);
});

test('a queued upgrade whose client went away is skipped when its turn comes, and frees its place', async () => {
  const q = new UpgradeQueue(1);
  const log: string[] = [];
  const a = work(log, 'a');
  const b = work(log, 'b');
  const c = work(log, 'c');
  q.enqueue(a.run, () => true);
  q.enqueue(b.run, () => false); // aborted while waiting
  q.enqueue(c.run, () => true);
  a.finish();
  await settle();
  assert.deepEqual(log, ['start a', 'end a', 'start c']);
  c.finish();
  await settle();
  assert.equal(q.size, 0);
});

test('a failing piece of work frees its place too', async () => {
  const q = new UpgradeQueue(1);
  let ran = false;
  q.enqueue(() => Promise.reject(new Error('boom')).catch(() => undefined), () => true);
  q.enqueue(async () => { ran = true; }, () => true);
  await settle();
  assert.ok(ran);
  assert.equal(q.size, 0);
});

test('thousands queued: every one runs once, in order', async () => {
  const q = new UpgradeQueue(3);
  const order: number[] = [];
  for (let i = 0; i < 5000; i++) q.enqueue(async () => { order.push(i); }, () => true);
  for (let i = 0; i < 50 && q.size > 0; i++) await settle();
  assert.equal(q.size, 0);
  assert.deepEqual(order, Array.from({ length: 5000 }, (_, i) => i));
});

test('thousands of queued upgrades whose clients went away are skipped without deepening the stack', async () => {
  const q = new UpgradeQueue(1);
  const log: string[] = [];
  const a = work(log, 'a');
  q.enqueue(a.run, () => true);
  for (let i = 0; i < 50_000; i++) q.enqueue(async () => { log.push('aborted one ran'); }, () => false);
  const z = work(log, 'z');
  q.enqueue(z.run, () => true);
  a.finish();
  await settle();
  assert.deepEqual(log, ['start a', 'end a', 'start z']);
  z.finish();
  await settle();
  assert.equal(q.size, 0);
});
