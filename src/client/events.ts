/** The events a TickgateClient emits, and the states of its connection. */
import type {
  EpochMessage, ErrorMessage, GapMessage, NoticeMessage, Session, StatusMessage, Tick, Welcome,
} from './types.ts';

export interface ClientEvents {
  tick: Tick;
  status: StatusMessage;
  gap: GapMessage;
  epoch: EpochMessage;
  notice: NoticeMessage;
  error: ErrorMessage;
  connected: { welcome: Welcome; reconnect: boolean };
  reconnecting: { attempt: number; delayMs: number; code: number; reason: string };
  closed: { code: number; reason: string };
  /** The server is draining: it closes this socket next; the client reconnects after `reconnectAfterMs`. */
  shutdown: { reconnectAfterMs: number };
  /** The session changed (login, refresh) or ended (undefined): persist it if you keep one. */
  session: Session | undefined;
}

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed';
