/**
 * V8 heap setting for the ingester process: let the old generation grow to 4× what survived the
 * last full collection before the next one, V8's own upper bound for its dynamic growing factor.
 *
 * The ingester's live heap is small (about 13 MB at 10,000 ticks/s over 50 tokens) and nearly all
 * it allocates dies young, but with V8's defaults the next full collection's limit lands within a
 * young generation's size of the live heap, so incremental marking starts again almost at once:
 * a full collection every ~0.4 s, whose concurrent marking kept the GC helper threads at about
 * 7 % of a core. Measured with `src/bench/ingest-only.ts --subscribe-all` at 10,000 ticks/s (the
 * flag on the command line, 5 s windows): 20 full collections in a run against 6, and 38–39 µs
 * per tick against 35–36; set here, 36.4–38.5 against 34.9–36.5 µs (21.2–21.8 against 23.8–24.8
 * without a subscriber). The price is memory: the ingester's peak RSS in that run was 209 MB
 * against 163 MB.
 *
 * The growing factor can be set at run time; it applies from the next full collection on.
 */
import v8 from 'node:v8';

export const INGESTER_HEAP_GROWING_PERCENT = 300;

export function tuneIngesterHeap(): void {
  v8.setFlagsFromString(`--heap-growing-percent=${INGESTER_HEAP_GROWING_PERCENT}`);
}
