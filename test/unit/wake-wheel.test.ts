import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedClock } from 'xstate';
import { WakeWheel, type Sleeper } from '../../src/gateway/wake-wheel.ts';

interface Target extends Sleeper { name: string }

function wheel(onDue: (t: Target, now: number) => void = () => {}) {
  const clock = new SimulatedClock();
  let timers = 0;
  const counting = {
    setTimeout: (fn: () => void, ms: number) => {
      timers++;
      return clock.setTimeout(fn, ms);
    },
    clearTimeout: (id: unknown) => clock.clearTimeout(id as number),
  };
  const woken: [string, number][] = [];
  const w = new WakeWheel<Target>(counting, () => clock.now(), (t) => {
    woken.push([t.name, clock.now()]);
    onDue(t, clock.now());
  });
  return { w, clock, woken, timers: () => timers };
}

test('a target is woken at its time, not a millisecond before', () => {
  const { w, clock, woken } = wheel();
  w.schedule({ name: 'a' }, 1_000);
  clock.increment(999);
  assert.deepEqual(woken, []);
  clock.increment(1);
  assert.deepEqual(woken, [['a', 1_000]]);
});

test('a new request replaces the previous one; a cancelled target is not woken', () => {
  const { w, clock, woken } = wheel();
  const a: Target = { name: 'a' };
  const b: Target = { name: 'b' };
  w.schedule(a, 100);
  w.schedule(a, 300);
  w.schedule(b, 200);
  w.cancel(b);
  clock.increment(250);
  assert.deepEqual(woken, []);
  clock.increment(50);
  assert.deepEqual(woken, [['a', 300]]);
});

test('many targets wake in time order on one timer at a time', () => {
  const { w, clock, woken, timers } = wheel();
  const times = [500, 100, 400, 100, 300, 200];
  times.forEach((at, i) => w.schedule({ name: String(i) }, at));
  for (let t = 0; t < 500; t += 50) clock.increment(50);
  assert.deepEqual(woken.map(([, at]) => at), [...times].sort((x, y) => x - y));
  // Armed for 500, then re-armed only when an earlier time came in (100), then once per distinct time after a firing.
  assert.ok(timers() <= 1 + 1 + 5, `${timers()} timers`);
});

test('a target that asks again for a time already past is woken again in the same firing', () => {
  const asks = [50, 60];
  const { w, clock, woken } = wheel((t) => {
    const next = asks.shift();
    if (next !== undefined) w.schedule(t, next);
  });
  w.schedule({ name: 'a' }, 100);
  clock.increment(100);
  assert.deepEqual(woken, [['a', 100], ['a', 100], ['a', 100]]);
});
