import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from '../../src/start/backoff.ts';

test('restart delays double from 100 ms up to 10 s for a child that keeps dying', () => {
  const b = new Backoff();
  const delays = Array.from({ length: 10 }, () => b.next(5));
  assert.deepEqual(delays, [100, 200, 400, 800, 1_600, 3_200, 6_400, 10_000, 10_000, 10_000]);
});

test('a child that stayed up for a minute starts over at 100 ms', () => {
  const b = new Backoff();
  for (let i = 0; i < 6; i++) b.next(5);
  assert.equal(b.next(60_000), 100);
  assert.equal(b.next(10), 200);
});
