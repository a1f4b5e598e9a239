/**
 * Tick data and its wire encodings. The ingester encodes every tick once per mode (§6) and the
 * gateways forward those bytes untouched, so no JSON work happens per recipient.
 */
export const MODES = ['ltp', 'quote', 'full'] as const;
export type Mode = (typeof MODES)[number];
export const DEFAULT_MODE: Mode = 'quote';

export const MIN_TOKEN = 1;
export const MAX_TOKEN = 4_294_967_295;

export interface DepthLevel { price: number; qty: number; orders: number }
export interface Depth { buy: DepthLevel[]; sell: DepthLevel[] }

/** A validated feed tick: only known fields, all numbers finite. */
export interface TickData {
  token: number;
  ltp: number;
  ts: number;
  volume?: number;
  bid?: number;
  ask?: number;
  open?: number;
  high?: number;
  low?: number;
  close?: number;
  oi?: number;
  depth?: Depth;
}

/** A tick as the ingester publishes it: `seq` rises by one per published tick of that token. */
export interface Tick extends TickData { seq: number }

export function isToken(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= MIN_TOKEN && v <= MAX_TOKEN;
}

/**
 * Percent change of `ltp` against the previous close, two decimals (absent without a close, and
 * when it overflows: extreme values must not put `Infinity`, which is not JSON, into a tick).
 */
export function changePercent(ltp: number, close: number | undefined): number | undefined {
  if (close === undefined || close === 0) return undefined;
  const change = Math.round(((ltp - close) / close) * 10_000) / 100;
  return Number.isFinite(change) ? change : undefined;
}

const QUOTE_FIELDS = ['volume', 'bid', 'ask', 'open', 'high', 'low', 'close'] as const;

/**
 * A tick's JSON in the pieces its three encodings share, seq aside (it is assigned after
 * validation). With `tickPrefix` and `encodeTickModes` they make the wire encodings:
 *
 *   ltp   = prefix + seq + core + end
 *   quote = prefix + seq + core + quote + end
 *   full  = prefix + seq + core + quote + full + end      (end: `}` or `,"snapshot":true}`)
 *
 * so each number of a tick is formatted once, and its modes are concatenations of the same strings.
 */
export interface TickText {
  /** `,"ts":…,"ltp":…` */
  core: string;
  /** The quote fields present, then `change`: `,"volume":…,"change":…` */
  quote: string;
  /** `,"oi":…,"depth":…` as present */
  full: string;
}

// String building instead of JSON.stringify: every value here is a validated finite number, whose
// String() form is valid JSON, and the fixed key order keeps messages byte-identical per mode.
/**
 * The pieces of `t` that `mode` needs (the others are left empty). `depthJson`: the JSON of
 * `t.depth` when the caller already has it (see `depthJson`).
 */
export function tickText(t: TickData, mode: Mode = 'full', depthJson?: string): TickText {
  const core = `,"ts":${t.ts},"ltp":${t.ltp}`;
  let quote = '';
  let full = '';
  if (mode === 'ltp') return { core, quote, full };
  for (const f of QUOTE_FIELDS) {
    const v = t[f];
    if (v !== undefined) quote += `,"${f}":${v}`;
  }
  const change = changePercent(t.ltp, t.close);
  if (change !== undefined) quote += `,"change":${change}`;
  if (mode === 'quote') return { core, quote, full };
  if (t.oi !== undefined) full += `,"oi":${t.oi}`;
  if (t.depth !== undefined) full += `,"depth":${depthJson ?? JSON.stringify(t.depth)}`;
  return { core, quote, full };
}

/** A depth and its JSON, kept per token so that a depth equal to the previous one is not serialised again. */
export interface DepthJson { depth: Depth; json: string }

/** `prev` when `depth` has the same levels (30 number comparisons), else a fresh serialisation. */
export function depthJson(depth: Depth, prev: DepthJson | undefined): DepthJson {
  if (prev && sameLevels(prev.depth.buy, depth.buy) && sameLevels(prev.depth.sell, depth.sell)) return prev;
  return { depth, json: JSON.stringify(depth) };
}

function sameLevels(a: DepthLevel[], b: DepthLevel[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    // Object.is: -0 and 0 serialise alike, but keeping them apart costs nothing and is obviously exact.
    if (!Object.is(x.price, y.price) || !Object.is(x.qty, y.qty) || !Object.is(x.orders, y.orders)) return false;
  }
  return true;
}

/** Everything before a tick's seq: `{"type":"tick","token":T,"seq":` (the same for every tick of T). */
export function tickPrefix(token: number): string {
  return `{"type":"tick","token":${token},"seq":`;
}

/** A tick's three encodings (MODES order) from its shared pieces. */
export function encodeTickModes(prefix: string, seq: number, text: TickText, snapshot = false): [string, string, string] {
  const head = prefix + seq + text.core;
  const end = snapshot ? ',"snapshot":true}' : '}';
  const quote = head + text.quote;
  return [head + end, quote + end, quote + text.full + end];
}

export function encodeTick(t: Tick, mode: Mode, snapshot = false): string {
  const text = tickText(t, mode);
  return tickPrefix(t.token) + t.seq + text.core + text.quote + text.full + (snapshot ? ',"snapshot":true}' : '}');
}
