import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeOffsets, readyzGraceMs, reconnectAfterMs } from '../../src/gateway/drain.ts';

test('closes start after the readyz grace and end by 80% of the window, in order', () => {
  const offsets = closeOffsets(200, 3_000);
  assert.equal(offsets.length, 200);
  assert.ok(offsets[0]! >= readyzGraceMs(3_000));
  assert.ok(offsets.at(-1)! <= 2_400);
  for (let i = 1; i < offsets.length; i++) assert.ok(offsets[i]! >= offsets[i - 1]!);
});

test('reconnect hints stay within [500, 500 + min(window, 4500))', () => {
  assert.equal(reconnectAfterMs(3_000, () => 0), 500);
  assert.equal(reconnectAfterMs(3_000, () => 0.999_999), 3_499);
  assert.equal(reconnectAfterMs(60_000, () => 0.999_999), 4_999);
});
