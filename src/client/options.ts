/** What a TickgateClient is built with, and what a subscription asks for. */
import type { BackoffOptions } from './backoff.ts';
import type { Mode, Session, WebSocketConstructor } from './types.ts';

export interface ClientOptions {
  /** The gateway's HTTP base, e.g. `http://127.0.0.1:8080` (the socket is `<url>/ws`). */
  url: string;
  /** A WebSocket class; defaults to the global `WebSocket` (browsers). */
  WebSocket?: WebSocketConstructor;
  fetch?: typeof fetch;
  /** A saved session to start with (e.g. from a config file). */
  session?: Session;
  backoff?: BackoffOptions;
  /** Refresh this long before the access token expires (capped at a third of its lifetime). */
  refreshLeadMs?: number;
  requestTimeoutMs?: number;
  /**
   * Give up on a socket that stays silent this long after a `ping` (default 10 s). A browser
   * cannot see the server's WebSocket pings, so the client pings in-band when it hears nothing for
   * `heartbeat_ms`, and drops and reconnects a socket whose network died without a close.
   */
  pongTimeoutMs?: number;
  /**
   * Where other processes or tabs sharing this session keep its newest pair (e.g. the CLI's
   * session file). Read before each refresh: a newer pair found there is adopted instead of
   * refreshing again, so two users of one session do not reuse each other's rotated refresh
   * token (which would revoke the session).
   */
  sharedSession?: () => Session | undefined;
  /**
   * Runs a refresh under a lock shared with the other users of `sharedSession` (the CLI locks its
   * session file). Without it, two holders refreshing at the same moment present the same refresh
   * token twice, which the server may take for theft.
   */
  refreshLock?: <T>(critical: () => Promise<T>) => Promise<T>;
}

export interface SubscribeOptions {
  mode?: Mode;
  throttleMs?: number;
}
