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

/** Percent change of `ltp` against the previous close, two decimals (absent without a close). */
export function changePercent(ltp: number, close: number | undefined): number | undefined {
  if (close === undefined || close === 0) return undefined;
  return Math.round(((ltp - close) / close) * 10_000) / 100;
}

const QUOTE_FIELDS = ['volume', 'bid', 'ask', 'open', 'high', 'low', 'close'] as const;

// String building instead of JSON.stringify: every value here is a validated finite number, whose
// String() form is valid JSON, and the fixed key order keeps messages byte-identical per mode.
export function encodeTick(t: Tick, mode: Mode, snapshot = false): string {
  let s = `{"type":"tick","token":${t.token},"seq":${t.seq},"ts":${t.ts},"ltp":${t.ltp}`;
  if (mode !== 'ltp') {
    for (const f of QUOTE_FIELDS) {
      const v = t[f];
      if (v !== undefined) s += `,"${f}":${v}`;
    }
    const change = changePercent(t.ltp, t.close);
    if (change !== undefined) s += `,"change":${change}`;
    if (mode === 'full') {
      if (t.oi !== undefined) s += `,"oi":${t.oi}`;
      if (t.depth !== undefined) s += `,"depth":${JSON.stringify(t.depth)}`;
    }
  }
  if (snapshot) s += ',"snapshot":true';
  return s + '}';
}
