/**
 * `throttle_ms` (§6, issue 8): at most one tick per token per interval, always the newest value,
 * and the newest value never withheld longer than the interval — while an unthrottled socket on
 * the same worker and token still gets every tick.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSystem, startTestFeed } from '../helpers/system.ts';
import { until } from '../helpers/wait.ts';
import type { Msg, TestClient } from '../helpers/ws-client.ts';

const sys = await startSystem({ after });
const feed = await startTestFeed({ after }, sys.feedEndpoint);
const users = await Promise.all([sys.user(), sys.user()]);

/** Receipt times of a client's messages from now on, aligned with its inbox. */
function receiptTimes(c: TestClient): (m: Msg) => number {
  const offset = c.inbox.length;
  const at: number[] = [];
  c.ws.on('message', () => at.push(Date.now()));
  return (m) => at[c.inbox.indexOf(m) - offset]!;
}

const liveTicks = (c: TestClient, token: number) => c.ticks(token).filter((m) => !m.snapshot);

test('throttle_ms 200 on a token ticking 100/s: 4–6 ticks a second, each the newest value, the final value within the interval; an unthrottled neighbour gets every seq', { timeout: 30_000 }, async () => {
  const T = 320_001;
  const throttled = await sys.connect(users[0]!.access);
  const plain = await sys.connect(users[1]!.access);
  const at = receiptTimes(throttled);
  const plainAt = receiptTimes(plain);
  const ack = await throttled.request({ op: 'subscribe', tokens: [T], mode: 'ltp', throttle_ms: 200 });
  assert.equal(ack.throttle_ms, 200, 'the effective interval is echoed');
  const plainAck = await plain.request({ op: 'subscribe', tokens: [T], mode: 'ltp' });
  assert.equal(plainAck.throttle_ms, undefined, 'no throttle asked, none echoed');

  // The feed: 100 ticks/s for 3 s, paced by the clock.
  const RATE = 100;
  const RUN_MS = 3_000;
  const start = Date.now();
  let sent = 0;
  while (Date.now() - start < RUN_MS) {
    await feed.send(JSON.stringify({ token: T, ltp: 1_000 + ++sent }));
    await new Promise((r) => setTimeout(r, Math.max(0, start + (sent * 1_000) / RATE - Date.now())));
  }
  const stoppedAt = Date.now();
  const finalLtp = 1_000 + sent;

  // The unthrottled socket: every seq from its first tick to the last published, in order.
  await until('the plain socket to get the final value', () => plain.ticks(T).some((m) => m.ltp === finalLtp), 5_000);
  const all = liveTicks(plain, T);
  const finalSeq = all.at(-1)!.seq;
  assert.deepEqual(all.map((m) => m.seq), Array.from({ length: all.length }, (_, i) => all[0]!.seq + i), 'every seq, in order');
  assert.ok(all.length >= sent - 5, `the plain socket got ${all.length} of ${sent} ticks (at most the first few before demand)`);

  // The throttled socket: the final value arrives within the interval (slack: 2 shared cores).
  const final = await throttled.next((m) => m.type === 'tick' && m.seq === finalSeq, 2_000, 'the final value on the throttled socket');
  const finalDelay = at(final) - stoppedAt;
  assert.equal(final.ltp, finalLtp);
  assert.ok(finalDelay <= 200 + 400, `final value after ${finalDelay} ms`);

  // Rate over the run, from the first throttled tick on; seqs only rise (never an older value).
  const ticks = liveTicks(throttled, T);
  const inRun = ticks.filter((m) => at(m) <= stoppedAt);
  const span = (at(inRun.at(-1)!) - at(inRun[0]!)) / 1_000;
  const perSecond = (inRun.length - 1) / span;
  const seqs = ticks.map((m) => m.seq);
  assert.ok(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!), 'seq only rises');
  // Never withheld longer than the interval: every value the plain socket got is matched or
  // superseded on the throttled socket within 200 ms (+ slack) of the plain socket's receipt.
  let worstWithheld = 0;
  for (const p of all.filter((m) => m.seq >= ticks[0]!.seq)) {
    const covering = ticks.find((m) => m.seq >= p.seq);
    assert.ok(covering, `seq ${p.seq} reaches the throttled socket`);
    worstWithheld = Math.max(worstWithheld, at(covering) - plainAt(p));
  }
  assert.ok(worstWithheld <= 200 + 400, `a value was withheld ${worstWithheld} ms`);
  const spacing = inRun.slice(1).map((m, i) => at(m) - at(inRun[i]!));
  console.log(`throttle 200 ms at ${RATE}/s: ${inRun.length} ticks in ${span.toFixed(2)} s = ${perSecond.toFixed(2)}/s; spacing ms min ${Math.min(...spacing)} max ${Math.max(...spacing)}; final value ${finalDelay} ms after the feed stopped; longest a value was withheld ${worstWithheld} ms; plain socket ${all.length}/${sent} ticks`);
  assert.ok(span >= 2.5, `measured over ${span} s`);
  assert.ok(perSecond >= 4 && perSecond <= 6, `${perSecond.toFixed(2)} ticks per second`);
  // Each throttled tick was the newest value when sent: it matches what the plain socket had by then.
  for (const m of ticks) assert.ok(all.some((p) => p.seq === m.seq && p.ltp === m.ltp), `seq ${m.seq} is a published value`);
});

test('a throttle_ms between served intervals is rounded up and echoed; 0 is unthrottled', async () => {
  const c = await sys.connect(users[0]!.access);
  for (const [asked, served] of [[120, 200], [201, 250], [300, 500], [0, 0]] as const) {
    const ack = await c.request({ op: 'subscribe', tokens: [320_002], mode: 'ltp', throttle_ms: asked });
    assert.equal(ack.throttle_ms, served, `${asked} served as ${served}`);
  }
});
