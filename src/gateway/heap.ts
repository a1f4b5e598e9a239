/**
 * `GATEWAY_HEAP=compact`: V8 heap settings that make an idle socket cost ~7 KiB of RSS instead of
 * ~15 (issue 12, "lighter sockets"), at a price in fan-out CPU — hence a choice, not the default.
 *
 * A socket's live objects are about 5 KB (its actor, registry entries, uWS user data). The rest of
 * the RSS is heap V8 grew and kept: a connect burst allocates a lot of short-lived garbage (JWT
 * checks, Redis replies, promises), V8 lets the old generation grow up to 4× what survived, and a
 * gateway that keeps streaming ticks never looks idle enough for its memory reducer to give it
 * back. Measured with scripts/connect-storm.ts, 19,000 sockets, 2 busy cores:
 *
 * | settings                               | RSS per socket | gateway CPU per connect |
 * | -------------------------------------- | -------------- | ----------------------- |
 * | V8 defaults (`throughput`)             | 15.7 KiB       | 1.11 ms                 |
 * | heap growing 10 %                      | 9.8 KiB        | 1.37 ms                 |
 * | heap growing 10 % + 4 MiB semi-space   | 6.3–7.0 KiB    | 1.33–1.58 ms            |
 * | `--optimize-for-size`                  | 6.6 KiB        | 3.64 ms                 |
 *
 * The cost in steady fan-out (bench fanout-ramp at 5,000 ticks/s, overloaded machine, two runs
 * each): 1.62–1.72 CPU-s per million messages compact against 1.49–1.56 with V8's defaults: more
 * frequent full collections of a heap that is kept small.
 *
 * The growing factor can be changed at run time (`tuneGatewayHeap`); the semi-space size only on
 * the command line or in NODE_OPTIONS, so launchers (the supervisor, the bench) add
 * `gatewayNodeFlags`. Run by hand, give it yourself: NODE_OPTIONS=--max-semi-space-size=4.
 */
import v8 from 'node:v8';
import type { Config } from '../../config/index.ts';

/** In `compact`, the old generation grows by at most 10 % over what survived the last full GC. */
export const HEAP_GROWING_PERCENT = 10;

/** Node flags a launcher gives a gateway process; also valid in NODE_OPTIONS. */
export function gatewayNodeFlags(heap: Config['gatewayHeap']): readonly string[] {
  return heap === 'compact' ? ['--max-semi-space-size=4'] : [];
}

export function tuneGatewayHeap(heap: Config['gatewayHeap']): void {
  if (heap === 'compact') v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
