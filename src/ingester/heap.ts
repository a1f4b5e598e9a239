/**
 * V8 heap setting for the ingester process: let the old generation grow to 4× what survived the
 * last full collection before the next one, V8's own upper bound for its dynamic growing factor.
 *
 * The ingester's live heap is small (about 13 MB at 10,000 ticks/s over 50 tokens) and nearly all
 * it allocates dies young, but with V8's defaults the next full collection's limit lands within a
 * young generation's size of the live heap, so incremental marking starts again soon after each
 * collection, and its concurrent marking keeps the GC helper threads busy. Measured with
 * `src/bench/ingest-only.ts --subscribe-all` at 10,000 ticks/s (5 s windows, alternating runs):
 * 4 full collections in a run against 9 without it, 32.8–34.2 µs per tick against 34.1–35.3 (no
 * subscriber: inside the noise). The price is memory: the ingester's peak RSS in that run was
 * 177 MB against 157 MB. (Before the history writer stopped holding written ticks for ~0.4 s,
 * which had them promoted, it was 6 collections against 20 and 2–3 µs per tick less.)
 *
 * The growing factor can be set at run time; it applies from the next full collection on.
 */
import v8 from 'node:v8';

export const INGESTER_HEAP_GROWING_PERCENT = 300;

export function tuneIngesterHeap(): void {
  v8.setFlagsFromString(`--heap-growing-percent=${INGESTER_HEAP_GROWING_PERCENT}`);
}
