/**
 * Which tokens the ingester forgets (token-eviction.ts), on a simulated clock: the pure selection
 * over a cursor that walks the books a slice at a time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evictionScanEveryMs, evictionSliceSize, selectSlice, SliceCursor, type EvictionRules } from '../../src/ingester/token-eviction.ts';

const DAY = 86_400_000;
const WEEK = 7 * DAY;

interface Book { freshAt: number }

function rules(keep: ReadonlySet<number> = new Set(), recordSince = 0): EvictionRules<Book> {
  return { forgetMs: WEEK, lastSeen: (_t, b) => b.freshAt, keep: (t) => keep.has(t), recordSince };
}

/** Runs slices until one ends a walk; returns every token selected for forgetting, and the slices run. */
function walk(cursor: SliceCursor<Book>, n: number, now: number, r: EvictionRules<Book>) {
  const forget: number[] = [];
  for (let slices = 1; ; slices++) {
    const s = selectSlice(cursor, n, now, r);
    forget.push(...s.forget);
    if (s.roundDone) return { forget, slices };
  }
}

test('a token unseen for TOKEN_FORGET_S is selected; one seen a moment less recently is not', () => {
  const clock = { now: 1_000 * DAY };
  const books = new Map<number, Book>([[1, { freshAt: clock.now - WEEK }], [2, { freshAt: clock.now - WEEK + 1 }], [3, { freshAt: clock.now }]]);
  const { forget } = walk(new SliceCursor(books), 10, clock.now, rules());
  assert.deepEqual(forget, [1]);
  clock.now += 1; // one millisecond later token 2 is due as well
  assert.deepEqual(walk(new SliceCursor(books), 10, clock.now, rules()).forget, [1, 2]);
});

test('a token paused by name or still wanted by a gateway is kept however old', () => {
  const now = 1_000 * DAY;
  const books = new Map<number, Book>([[1, { freshAt: 0 }], [2, { freshAt: 0 }], [3, { freshAt: 0 }]]);
  assert.deepEqual(walk(new SliceCursor(books), 10, now, rules(new Set([1, 3]))).forget, [2]);
});

test('every book is examined once per walk, a slice at a time, while the walk forgets some of them', () => {
  const now = 1_000 * DAY;
  const books = new Map<number, Book>();
  for (let t = 1; t <= 1_000; t++) books.set(t, { freshAt: t % 2 ? 0 : now });
  const cursor = new SliceCursor(books);
  const seen: number[] = [];
  const r: EvictionRules<Book> = { ...rules(), lastSeen: (t, b) => (seen.push(t), b.freshAt) };
  const forget: number[] = [];
  let slices = 0;
  for (;;) {
    slices++;
    const s = selectSlice(cursor, 64, now, r);
    // The caller deletes what a slice selected before the next slice runs, as the ingester does.
    for (const t of s.forget) books.delete(t);
    forget.push(...s.forget);
    if (s.roundDone) break;
  }
  assert.equal(slices, Math.ceil(1_000 / 64) + (1_000 % 64 === 0 ? 1 : 0));
  assert.deepEqual(seen, [...Array(1_000).keys()].map((i) => i + 1), 'each book once, in order');
  assert.equal(forget.length, 500);
  assert.ok(forget.every((t) => t % 2 === 1));
  assert.equal(books.size, 500);
});

test('a token added during a walk is examined in that walk; the next walk starts from the beginning', () => {
  const now = 1_000 * DAY;
  const books = new Map<number, Book>([[1, { freshAt: now }], [2, { freshAt: now }]]);
  const cursor = new SliceCursor(books);
  assert.equal(selectSlice(cursor, 1, now, rules()).roundDone, false);
  books.set(3, { freshAt: 0 });
  assert.deepEqual(walk(cursor, 1, now, rules()).forget, [3]);
  books.delete(3);
  books.get(1)!.freshAt = 0;
  assert.deepEqual(walk(cursor, 1, now, rules()).forget, [1], 'the new walk sees token 1 again');
});

test('sightings at or after recordSince are reported for tg:seen; older ones and forgotten tokens are not', () => {
  const now = 1_000 * DAY;
  const books = new Map<number, Book>([[1, { freshAt: now - 10 }], [2, { freshAt: now - 5_000 }], [3, { freshAt: now - WEEK }]]);
  const s = selectSlice(new SliceCursor(books), 10, now, rules(new Set(), now - 1_000));
  assert.deepEqual(s.seen, [[1, now - 10]]);
  assert.deepEqual(s.forget, [3]);
});

test('slices are sized so that a walk takes at most a quarter of TOKEN_FORGET_S and at most a minute', () => {
  const every = evictionScanEveryMs(WEEK);
  assert.equal(every, 1_000);
  // A million books at the default: a walk in 60 scans of 16,667 books.
  const n = evictionSliceSize(1_000_000, every, WEEK);
  assert.equal(n, Math.ceil(1_000_000 / 60));
  assert.ok(Math.ceil(1_000_000 / n) * every <= 60_000);
  // Few books: one slice holds them all (a floor of 64 per scan).
  assert.equal(evictionSliceSize(10, every, WEEK), 64);
  // A 2 s TTL (tests): scans every 250 ms, a walk within 500 ms.
  assert.equal(evictionScanEveryMs(2_000), 250);
  const small = evictionSliceSize(10_000, 250, 2_000);
  assert.ok(Math.ceil(10_000 / small) * 250 <= 500, `slice ${small}`);
});
