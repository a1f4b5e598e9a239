/**
 * A tick as a gateway worker handles it: its three wire encodings, its snapshot form, and the
 * state of a token status event. Small pure helpers shared by the token streams, the subscribe
 * join and the throttle timers.
 */
import type { TokenState } from '../protocol/server-messages.ts';
import { encodeTick, MODES, type Tick } from '../protocol/tick.ts';

/** A tick's three encodings (MODES order): bytes from the ingester, or re-encoded from history. */
export type Encodings = [Buffer | string, Buffer | string, Buffer | string];

const SNAPSHOT_SUFFIX = ',"snapshot":true}';

/** A tick's bytes in snapshot form (the resume snapshot may already be one). */
export function withSnapshotFlag(tick: Buffer | string): string {
  const s = typeof tick === 'string' ? tick : tick.toString('utf8');
  return s.endsWith(SNAPSHOT_SUFFIX) ? s : `${s.slice(0, -1)}${SNAPSHOT_SUFFIX}`;
}

export function encodeAll(tick: Tick, snapshot = false): Encodings {
  return [encodeTick(tick, 'ltp', snapshot), encodeTick(tick, 'quote', snapshot), encodeTick(tick, 'full', snapshot)];
}

export const MODE_INDEX = Object.fromEntries(MODES.map((m, i) => [m, i])) as Record<(typeof MODES)[number], number>;

const TOKEN_STATES: readonly string[] = ['live', 'paused', 'stale'] satisfies TokenState[];

/** The state of a token status event, or undefined for any other event. */
export function readStateOf(json: Buffer): TokenState | undefined {
  try {
    const m = JSON.parse(json.toString('utf8')) as { type?: unknown; state?: unknown };
    return m.type === 'status' && typeof m.state === 'string' && TOKEN_STATES.includes(m.state) ? (m.state as TokenState) : undefined;
  } catch {
    // Not ours to judge: the event is forwarded as it is either way.
    return undefined;
  }
}
