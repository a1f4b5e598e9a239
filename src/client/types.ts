/** The wire types of §6 as a client sees them. Kept free of server imports so the browser bundle stays small. */
export type Mode = 'ltp' | 'quote' | 'full';
export type TokenState = 'live' | 'paused' | 'stale';

export interface DepthLevel { price: number; qty: number; orders: number }

export interface Tick {
  type: 'tick';
  token: number;
  seq: number;
  ts: number;
  ltp: number;
  volume?: number;
  bid?: number;
  ask?: number;
  open?: number;
  high?: number;
  low?: number;
  close?: number;
  change?: number;
  oi?: number;
  depth?: { buy: DepthLevel[]; sell: DepthLevel[] };
  snapshot?: boolean;
}

export interface Welcome {
  type: 'welcome';
  conn_id: string;
  user: string;
  worker: string;
  heartbeat_ms: number;
  expires_at: number;
  limits: Record<string, number>;
}

export interface Rejected { token: unknown; reason: string }

export interface SubscribedAck {
  type: 'subscribed';
  id?: unknown;
  tokens: number[];
  mode: Mode;
  epoch: string;
  rejected: Rejected[];
  throttle_ms?: number;
  recovered?: number[];
  gaps?: number[];
}

export interface StatusMessage { type: 'status'; tokens?: number[]; state: TokenState | 'conflating' }
export interface NoticeMessage { type: 'notice'; message: string; tokens?: number[] }
export interface GapMessage { type: 'gap'; token: number; from: number; to: number }
export interface EpochMessage { type: 'epoch'; epoch: string }
export interface ErrorMessage { type: 'error'; id?: unknown; code: string; message: string }

/** The access/refresh pair of a session, with the access token's expiry as an absolute time. */
export interface Session {
  accessToken: string;
  refreshToken: string;
  /** ms since the epoch */
  accessExpiresAt: number;
}

/**
 * What the SDK needs of a WebSocket: the browser's global `WebSocket` and the `ws` package's
 * class both fit. Only the `on*` handler properties are used, which both implement.
 */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;
