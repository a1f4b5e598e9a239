import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  encodeTickHead, encodeTickMeta, epochBytes, epochString, isTickMeta, readTickMetaSeq, splitTickMessage, TICK_HEAD_BYTES, TICK_META_BYTES,
  tickMetaEpoch, tickMetaEpochEquals,
} from '../../src/protocol/tick-meta.ts';
import { tokenOfTopic, tokenTopic } from '../../src/protocol/topics.ts';

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

test('a tick message is two frames that split back into [topic, meta, ltp, quote, full] views', () => {
  const epoch = randomUUID();
  const [ltp, quote, full] = ['{"a":1}', '{"a":1,"b":2}', '{"a":1,"b":2,"c":3}'];
  const head = encodeTickHead(tokenTopic(256265), epochBytes(epoch), 0x1_0000_0007, ltp.length, quote.length);
  assert.equal(head.length, TICK_HEAD_BYTES);
  assert.ok(head.subarray(0, 5).equals(tokenTopic(256265)), 'the topic leads the first frame: XPUB prefix matching works');
  const parts = splitTickMessage([head, Buffer.from(ltp + quote + full)])!;
  assert.equal(parts.length, 5);
  assert.equal(tokenOfTopic(parts[0]!), 256265);
  assert.ok(isTickMeta(parts[1]!));
  assert.equal(readTickMetaSeq(parts[1]!), 0x1_0000_0007);
  assert.ok(tickMetaEpochEquals(parts[1]!, epochBytes(epoch)));
  assert.deepEqual(parts.slice(2).map((b) => b.toString()), [ltp, quote, full]);
});

test('anything else is not taken for a tick message', () => {
  const head = encodeTickHead(tokenTopic(5), epochBytes(randomUUID()), 1, 10, 10);
  assert.equal(splitTickMessage([head, Buffer.from('short')]), undefined, 'lengths beyond the body');
  assert.equal(splitTickMessage([tokenTopic(5), Buffer.from('{"type":"status"}')]), undefined, 'a status event');
  assert.equal(splitTickMessage([head]), undefined);
  assert.throws(() => encodeTickHead(tokenTopic(5), epochBytes(randomUUID()), 1, 70_000, 1));
});
