/**
 * `throttle_ms` (§6): a subscription may ask for at most one tick per token per N ms, always the
 * newest value. The server serves a fixed set of intervals, so the cost of throttling grows with
 * the (token, mode, interval) combinations in use rather than with sockets; a request is rounded
 * up to the next one and the ack echoes the effective value.
 */
export const THROTTLE_INTERVALS_MS = [50, 100, 250, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000] as const;
export const MAX_THROTTLE_MS = 60_000;

/** The interval a request is served with: 0 (every tick) stays 0, anything else rounds up. */
export function effectiveThrottleMs(requested: number): number {
  if (requested <= 0) return 0;
  return THROTTLE_INTERVALS_MS.find((i) => i >= requested) ?? MAX_THROTTLE_MS;
}
