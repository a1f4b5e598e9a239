/**
 * `throttle_ms` (§6): a subscription may ask for at most one tick per token per N ms, always the
 * newest value. The server serves a fixed set of intervals, so the cost of throttling grows with
 * the (token, mode, interval) combinations in use rather than with sockets; a request is rounded
 * up to the next one and the ack echoes the effective value.
 */
/**
 * The contract's list (§6: a request is rounded up at most to the next of 50, 100, 250, …) plus
 * 200, so the common `throttle_ms: 200` (5 ticks/s) is served as asked: rounded to 250 it gave 4
 * ticks/s and held the last value up to 250 ms (issue 8 asks for 4–6/s and the last value within
 * 200 ms).
 */
export const THROTTLE_INTERVALS_MS = [50, 100, 200, 250, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000] as const;
export const MAX_THROTTLE_MS = 60_000;

/** The interval a request is served with: 0 (every tick) stays 0, anything else rounds up. */
export function effectiveThrottleMs(requested: number): number {
  if (requested <= 0) return 0;
  return THROTTLE_INTERVALS_MS.find((i) => i >= requested) ?? MAX_THROTTLE_MS;
}
