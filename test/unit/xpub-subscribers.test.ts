import { test } from 'node:test';
import assert from 'node:assert/strict';
import { XpubSubscribers } from '../../src/ingester/xpub-subscribers.ts';
import { BROADCAST_TOPIC, tokenTopic, workerTopic } from '../../src/protocol/topics.ts';

/** What the XPUB hands up: 0x01 + topic for a first subscriber, 0x00 + topic when the last leaves. */
const sub = (topic: Buffer) => [Buffer.concat([Buffer.from([1]), topic])];
const unsub = (topic: Buffer) => [Buffer.concat([Buffer.from([0]), topic])];

test('a token is wanted exactly while some gateway subscribes to it', () => {
  const s = new XpubSubscribers(() => {});
  const t = tokenTopic(256265);
  assert.equal(s.wants(t, 256265), false);
  s.onMessage(sub(t));
  assert.equal(s.wants(t, 256265), true);
  assert.equal(s.wants(tokenTopic(5), 5), false);
  s.onMessage(unsub(t));
  assert.equal(s.wants(t, 256265), false);
  assert.deepEqual([...s.demand], []);
});

test('a prefix subscription (every token, or a range of topics) makes the tokens it covers wanted, and is not demand', () => {
  const s = new XpubSubscribers(() => {});
  const a = tokenTopic(0x0102_0304);
  const b = tokenTopic(0x0902_0304);
  s.onMessage(sub(a.subarray(0, 2))); // 't' + the first byte of a
  assert.equal(s.wants(a, 0x0102_0304), true);
  assert.equal(s.wants(b, 0x0902_0304), false);
  s.onMessage(sub(Buffer.alloc(0))); // everything
  assert.equal(s.wants(b, 0x0902_0304), true);
  assert.deepEqual([...s.demand], [], 'demand lists whole tokens only');
  s.onMessage(unsub(Buffer.alloc(0)));
  s.onMessage(unsub(a.subarray(0, 2)));
  assert.equal(s.wants(a, 0x0102_0304), false);
});

test('worker and broadcast topics are no token demand', () => {
  let joins = 0;
  const s = new XpubSubscribers(() => joins++);
  s.onMessage(sub(BROADCAST_TOPIC));
  s.onMessage(sub(workerTopic('abcd')));
  assert.equal(joins, 1);
  assert.equal(s.workers.size, 1);
  assert.equal(s.wants(tokenTopic(0x6263_6400), 0x6263_6400), false);
});
