/**
 * The benchmark scenarios: how many sockets, which tokens each subscribes to, in which mode, and
 * how fast the feed publishes. Sized so the default run takes about two to three minutes on a
 * 2-core machine; `--quick` shrinks them for a smoke run.
 */
import type { Mode } from '../protocol/tick.ts';

export interface Scenario {
  name: string;
  /** One line: what the scenario stresses. */
  about: string;
  connections: number;
  /** Distinct tokens the feed publishes; together the connections subscribe to all of them. */
  tokens: number;
  /** Tokens per connection: a block of consecutive tokens, shifted by this much per connection. */
  tokensPerConnection: number;
  mode: Mode;
  /** Offered load: ticks per second over all tokens (each token gets rate / tokens). */
  ratePerSec: number;
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'spread-ltp',
    about: 'many sockets with small, overlapping watchlists (about 100 subscribers per token), ltp mode',
    // 500 ticks/s → about 50,000 messages/s. On 2 cores a single `ws` client process is the
    // limit well before the gateway is: at 2,000 ticks/s (--rate 2000) it is saturated.
    connections: 1_000, tokens: 100, tokensPerConnection: 10, mode: 'ltp', ratePerSec: 500,
  },
  {
    name: 'fanout-full',
    about: 'every socket subscribes to the same 50 tokens in full mode (depth): fan-out and bytes heavy',
    connections: 100, tokens: 50, tokensPerConnection: 50, mode: 'full', ratePerSec: 500,
  },
  {
    name: 'idle-5k',
    about: '5,000 mostly idle sockets, one token each, one tick per token per second: memory per socket',
    connections: 5_000, tokens: 500, tokensPerConnection: 1, mode: 'quote', ratePerSec: 500,
  },
];

export interface ScenarioOverrides {
  quick?: boolean;
  connections?: number;
  ratePerSec?: number;
}

/** `--quick` divides connections by this (down to a floor) and halves the rate. */
const QUICK_DIVISOR = 10;
const QUICK_MIN_CONNECTIONS = 20;

export function applyOverrides(s: Scenario, o: ScenarioOverrides): Scenario {
  let { connections, ratePerSec } = s;
  if (o.quick) {
    connections = Math.max(QUICK_MIN_CONNECTIONS, Math.round(connections / QUICK_DIVISOR));
    ratePerSec = Math.max(1, Math.round(ratePerSec / 2));
  }
  if (o.connections !== undefined) connections = o.connections;
  if (o.ratePerSec !== undefined) ratePerSec = o.ratePerSec;
  return { ...s, connections, ratePerSec };
}

/**
 * Token indexes (into the feed's token list) of connection `i`: `tokensPerConnection`
 * consecutive ones starting at `i × tokensPerConnection`, wrapping around. With connections ×
 * tokensPerConnection a multiple of tokens, every token gets the same number of subscribers.
 */
export function tokenIndexesFor(s: Scenario, i: number): number[] {
  const per = Math.min(s.tokensPerConnection, s.tokens);
  const start = (i * per) % s.tokens;
  return Array.from({ length: per }, (_, j) => (start + j) % s.tokens);
}

/** Subscribers per token index over all connections. */
export function subscriberCounts(s: Scenario): Uint32Array {
  const counts = new Uint32Array(s.tokens);
  for (let i = 0; i < s.connections; i++) for (const t of tokenIndexesFor(s, i)) counts[t]!++;
  return counts;
}
