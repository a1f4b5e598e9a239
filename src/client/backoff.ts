/**
 * Reconnect delays: exponential backoff with full jitter (a uniformly random delay between 0 and
 * the exponential ceiling), so clients dropped together do not return together.
 */
export interface BackoffOptions {
  baseMs: number;
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, capMs: 30_000 };

/** The delay before reconnect attempt `attempt` (0 for the first). `random` returns [0, 1). */
export function backoffDelay(attempt: number, opts: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const ceiling = Math.min(opts.capMs, opts.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/**
 * The delay after a drain's `shutdown`: the server already spread `reconnect_after_ms` per socket;
 * a little more jitter (up to 10 %, at most 500 ms) keeps clients of one socket-worth apart too.
 */
export function drainDelay(reconnectAfterMs: number, random: () => number = Math.random): number {
  return reconnectAfterMs + Math.floor(random() * Math.min(500, reconnectAfterMs * 0.1));
}
