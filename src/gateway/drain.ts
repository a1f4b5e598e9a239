/**
 * Graceful drain of one worker (SIGTERM/SIGINT): `/readyz` turns 503 at once so a load balancer
 * moves away, the listen socket closes shortly after, and the open sockets are told `shutdown`
 * and closed 1001 one by one, spread over the drain window, so their clients do not all come
 * back (to the other workers) at the same instant. Everything is done before `drainMs` is over.
 */

/** How long `/readyz` answers 503 before the listen socket closes (bounded by the window). */
export function readyzGraceMs(drainMs: number): number {
  return Math.min(500, Math.floor(drainMs / 10));
}

/** The share of the window the closes are spread over; the rest is for the last closes and teardown. */
const CLOSE_SPREAD_SHARE = 0.8;

/**
 * When (ms after the drain began) each of `n` sockets is told `shutdown` and closed: evenly
 * spread from the listen socket's close to 80% of the window, each jittered within its slot.
 */
export function closeOffsets(n: number, drainMs: number, random: () => number = Math.random): number[] {
  const start = readyzGraceMs(drainMs);
  const span = Math.max(0, drainMs * CLOSE_SPREAD_SHARE - start);
  const slot = n > 0 ? span / n : 0;
  return Array.from({ length: n }, (_, i) => Math.floor(start + slot * (i + random())));
}

/** Reconnect hints sent with `shutdown`: jittered over [500, 500 + min(window, 4500)) ms. */
const RECONNECT_MIN_MS = 500;
const RECONNECT_SPREAD_MAX_MS = 4_500;

export function reconnectAfterMs(drainMs: number, random: () => number = Math.random): number {
  return RECONNECT_MIN_MS + Math.floor(random() * Math.max(1, Math.min(drainMs, RECONNECT_SPREAD_MAX_MS)));
}
