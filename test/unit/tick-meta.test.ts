import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  encodeTickMeta, epochBytes, epochString, isTickMeta, readTickMetaSeq, TICK_META_BYTES, tickMetaEpoch, tickMetaEpochEquals,
} from '../../src/protocol/tick-meta.ts';

test('the meta frame is 24 bytes: 16 epoch bytes, then the seq as a big-endian u64', () => {
  const epoch = '0123abcd-4567-89ef-0123-456789abcdef';
  const meta = encodeTickMeta(epochBytes(epoch), 0x1_0000_0005);
  assert.equal(meta.length, TICK_META_BYTES);
  assert.equal(meta.toString('hex', 0, 16), '0123abcd456789ef0123456789abcdef');
  assert.equal(meta.readBigUInt64BE(16), 0x1_0000_0005n, 'any reader sees a plain u64 BE');
  assert.ok(isTickMeta(meta));
});

test('seq and epoch round-trip, up to the largest safe integer', () => {
  const epoch = randomUUID();
  for (const seq of [1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER]) {
    const meta = encodeTickMeta(epochBytes(epoch), seq);
    assert.equal(readTickMetaSeq(meta), seq);
    assert.equal(epochString(tickMetaEpoch(meta)), epoch);
    assert.ok(tickMetaEpochEquals(meta, epochBytes(epoch)));
    assert.ok(!tickMetaEpochEquals(meta, epochBytes(randomUUID())));
  }
});

test('an epoch that is not a canonical UUID is refused', () => {
  assert.throws(() => epochBytes('not-a-uuid'));
  assert.throws(() => epochBytes(''));
});
