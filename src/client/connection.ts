/**
 * The socket half of TickgateClient: opening it, keeping it up (reconnect with backoff or after a
 * drain, the in-band heartbeat), deciding when to stop for good, and matching requests to their
 * replies. It knows nothing of ticks and subscriptions: TickgateClient (client.ts) extends it,
 * reads the messages (`onMessage`) and restores its subscriptions on each welcome (`resubscribe`).
 */
import { backoffDelay, DEFAULT_BACKOFF, drainDelay, type BackoffOptions } from './backoff.ts';
import { TickgateError } from './error.ts';
import type { ConnectionState } from './events.ts';
import { Liveness } from './liveness.ts';
import type { ClientOptions } from './options.ts';
import { SessionClient } from './session.ts';
import type { WebSocketConstructor, WebSocketLike, Welcome } from './types.ts';

export const CLOSE_SESSION_REVOKED = 4003;
export const CLOSE_TOKEN_EXPIRED = 4001;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_NORMAL = 1000;

interface Pending { resolve: (m: any) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }

export abstract class Connection extends SessionClient {
  state: ConnectionState = 'idle';
  /** The server switched this socket to latest-value delivery (it fell behind). */
  conflating = false;
  welcome: Welcome | undefined;

  private readonly WS: WebSocketConstructor;
  private readonly backoff: BackoffOptions;
  private readonly requestTimeoutMs: number;
  private readonly liveness: Liveness;
  private ws: WebSocketLike | undefined;
  protected welcomed = false;
  private everConnected = false;
  private attempt = 0;
  /** The `reconnect_after_ms` of a drain's `shutdown`: the next 1001 waits that long instead of backing off. */
  protected drainAfterMs: number | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private nextId = 0;
  private pending = new Map<number, Pending>();
  private firstConnect: { resolve: (w: Welcome) => void; reject: (e: Error) => void } | undefined;

  constructor(opts: ClientOptions) {
    super(opts);
    const WS = opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WS) throw new TypeError('no WebSocket class: pass one as `WebSocket` (in Node 20, import from "tickgate/client" which passes ws)');
    this.WS = WS;
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.liveness = new Liveness(opts.pongTimeoutMs ?? 10_000);
  }

  /** Reads one message from the socket (anything but a reply to a pending request's promise). */
  protected abstract onMessage(text: string): void;
  /** Sends the subscriptions the caller wants again: called on every welcome, before `connected`. */
  protected abstract resubscribe(): void;

  protected override swapAccessToken(accessToken: string): void {
    if (this.ws && this.welcomed) this.ws.send(JSON.stringify({ op: 'auth', access_token: accessToken }));
  }

  /**
   * Opens the socket; resolves with the `welcome`. If this first attempt fails, it rejects with the
   * reason (server down, session ended) and does not retry; once connected, it reconnects by itself.
   */
  async connect(): Promise<Welcome> {
    if (!this.sessionValue) throw new TickgateError('not_logged_in', 'not logged in');
    this.wanted = true;
    this.state = 'connecting';
    try {
      // A token that expires before the socket could use it is refreshed first.
      if (this.sessionValue.accessExpiresAt - Date.now() < 1_000) await this.refresh();
    } catch (err) {
      this.wanted = false;
      this.state = 'closed';
      throw err;
    }
    this.scheduleRefresh();
    return new Promise<Welcome>((resolve, reject) => {
      this.firstConnect = { resolve, reject };
      this.open();
    });
  }

  private open(): void {
    const s = this.sessionValue;
    if (!s || !this.wanted) return;
    this.state = this.everConnected ? 'reconnecting' : 'connecting';
    this.welcomed = false;
    const url = `${this.base.replace(/^http/, 'ws')}/ws?access_token=${encodeURIComponent(s.accessToken)}`;
    const ws = new this.WS(url);
    this.ws = ws;
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.liveness.heard();
      this.onMessage(typeof ev.data === 'string' ? ev.data : String(ev.data));
    };
    ws.onclose = (ev) => {
      if (this.ws === ws) this.onClose(ev.code, ev.reason);
    };
    ws.onerror = () => {
      // The close event follows and decides.
    };
  }

  /** Closes the socket for good (no reconnect). */
  close(): void {
    this.wanted = false;
    this.clearTimers();
    const ws = this.ws;
    if (ws) ws.close(CLOSE_NORMAL);
    else this.finish(CLOSE_NORMAL, 'closed by the client');
  }

  protected override clearTimers(): void {
    super.clearTimers();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.liveness.stop();
  }

  private finish(code: number, reason: string): void {
    this.wanted = false;
    this.clearTimers();
    this.ws = undefined;
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.emit('closed', { code, reason });
  }

  private onClose(code: number, reason: string): void {
    const wasWelcomed = this.welcomed;
    this.liveness.stop();
    this.ws = undefined;
    this.welcomed = false;
    this.conflating = false;
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new TickgateError('disconnected', `the socket closed (${code})`));
    }
    this.pending.clear();
    if (!this.wanted) return this.finish(code, reason || 'closed');
    if (code === CLOSE_SESSION_REVOKED) return this.stop(code, reason || 'session revoked');
    if (code === CLOSE_TOKEN_EXPIRED) {
      if (this.refreshFailed) return this.stop(code, reason || 'access token expired and the refresh failed');
      this.refresh().then(() => this.retry(code, reason, 0), () => this.stop(code, 'access token expired and the refresh failed'));
      return;
    }
    if (!wasWelcomed) {
      void this.diagnose(code, reason);
      return;
    }
    const delay = code === CLOSE_GOING_AWAY && this.drainAfterMs !== undefined ? drainDelay(this.drainAfterMs) : backoffDelay(this.attempt, this.backoff);
    this.drainAfterMs = undefined;
    this.retry(code, reason, delay);
  }

  private stop(code: number, reason: string): void {
    const first = this.firstConnect;
    this.firstConnect = undefined;
    first?.reject(new TickgateError(code === CLOSE_SESSION_REVOKED || this.refreshFailed ? 'session_ended' : 'disconnected', reason));
    this.finish(code, reason);
  }

  /**
   * The socket closed before its welcome: the upgrade was refused (a browser cannot see the
   * status) or the server is down. Ask the HTTP API which, and act on it.
   */
  private async diagnose(code: number, reason: string): Promise<void> {
    const s = this.sessionValue;
    let why: TickgateError | undefined;
    try {
      if (s) await this.api('GET', '/api/me', undefined, s.accessToken);
    } catch (err) {
      why = err instanceof TickgateError ? err : new TickgateError('unreachable', (err as Error).message);
    }
    if (!this.wanted) return;
    if (why?.status === 401) {
      try {
        await this.refresh();
      } catch {
        return this.stop(CLOSE_SESSION_REVOKED, 'the session has ended (refresh refused)');
      }
      return this.retry(code, reason, 0);
    }
    if (this.firstConnect) {
      const first = this.firstConnect;
      this.firstConnect = undefined;
      this.wanted = false;
      this.clearTimers();
      this.state = 'closed';
      first.reject(why ?? new TickgateError('refused', `the server refused the socket (${code}${reason ? ` ${reason}` : ''})`));
      return;
    }
    this.retry(code, reason, backoffDelay(this.attempt, this.backoff));
  }

  private retry(code: number, reason: string, delayMs: number): void {
    if (!this.wanted) return;
    this.attempt++;
    this.state = 'reconnecting';
    this.emit('reconnecting', { attempt: this.attempt, delayMs, code, reason });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.open();
    }, delayMs);
  }

  protected onWelcome(w: Welcome): void {
    const reconnect = this.everConnected;
    this.welcome = w;
    this.welcomed = true;
    this.everConnected = true;
    this.attempt = 0;
    this.drainAfterMs = undefined;
    this.state = 'connected';
    this.liveness.start(w.heartbeat_ms, {
      live: () => this.ws !== undefined && this.welcomed,
      ping: () => this.ws?.send(JSON.stringify({ op: 'ping' })),
      dead: () => this.dropSilent(),
    });
    const first = this.firstConnect;
    this.firstConnect = undefined;
    this.resubscribe();
    this.emit('connected', { welcome: w, reconnect });
    first?.resolve(w);
  }

  /** The network died without a close: stop waiting for this socket and reconnect. */
  private dropSilent(): void {
    const ws = this.ws;
    if (!ws) return;
    ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close(CLOSE_NORMAL);
    } catch {
      // already closing
    }
    this.onClose(1006, 'no reply from the server');
  }

  protected onReauth(expiresAt: number): void {
    const s = this.sessionValue;
    if (!s || !this.ws) return;
    // Already refreshed (our own timer was first): the socket only needs the newer token.
    if (s.accessExpiresAt > expiresAt + 500) {
      this.ws.send(JSON.stringify({ op: 'auth', access_token: s.accessToken }));
      return;
    }
    this.refresh().catch((err: unknown) => {
      this.emit('error', { type: 'error', code: err instanceof TickgateError ? err.code : 'refresh_failed', message: (err as Error).message });
    });
  }

  protected request<T>(msg: Record<string, unknown>): Promise<T> {
    const ws = this.ws;
    if (!ws || !this.welcomed) return Promise.reject(new TickgateError('disconnected', 'not connected'));
    const id = ++this.nextId;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TickgateError('timeout', `no reply to ${String(msg.op)} within ${this.requestTimeoutMs} ms`));
      }, this.requestTimeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      ws.send(JSON.stringify({ ...msg, id }));
    });
  }

  /** The request awaiting this reply id, removed from the waiting list; undefined if none awaits it. */
  protected takePending(id: unknown): Pending | undefined {
    if (typeof id !== 'number') return undefined;
    const p = this.pending.get(id);
    if (!p) return undefined;
    this.pending.delete(id);
    clearTimeout(p.timer);
    return p;
  }
}
