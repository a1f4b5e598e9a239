/**
 * Server → client messages (§6) other than ticks (see tick.ts). Built as fresh objects and
 * serialised here, once per message; ticks never come through here.
 */
import type { ErrorCode } from './error-codes.ts';
import type { Rejected, RequestId } from './client-messages.ts';
import type { Mode } from './tick.ts';

export type TokenState = 'live' | 'paused' | 'stale';

export interface Limits {
  max_tokens_per_socket: number;
  max_frame_bytes: number;
  msg_rate: number;
  msg_burst: number;
}

export type ServerMessage =
  | {
      type: 'welcome'; conn_id: string; user: string; worker: string; heartbeat_ms: number;
      expires_at: number; limits: Limits;
    }
  | {
      type: 'subscribed'; id?: RequestId; tokens: number[]; mode: Mode; epoch: string; rejected: Rejected[];
      throttle_ms?: number; recovered?: number[]; gaps?: number[];
    }
  | { type: 'unsubscribed'; id?: RequestId; tokens: number[]; rejected?: Rejected[] }
  | { type: 'subscriptions'; id?: RequestId; tokens: Record<string, Mode> }
  | { type: 'pong'; id?: RequestId; ts: number }
  | { type: 'auth_ok'; id?: RequestId; expires_at: number }
  | { type: 'reauth'; expires_at: number }
  | { type: 'status'; tokens?: number[]; state: TokenState | 'conflating' }
  | { type: 'notice'; message: string; tokens?: number[] }
  | { type: 'shutdown'; reconnect_after_ms: number }
  | { type: 'gap'; token: number; from: number; to: number }
  | { type: 'epoch'; epoch: string }
  | { type: 'error'; id?: RequestId; code: ErrorCode; message: string };

export function encode(msg: ServerMessage): string {
  return JSON.stringify(msg);
}
