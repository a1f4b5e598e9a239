/**
 * TickgateClient (§10): the SDK the dashboard, `tickgate client` and programs share. Runs in Node
 * 20 and browsers with no runtime dependency: it uses the global `fetch` and a WebSocket class
 * (the browser's global one, or one passed in — `tickgate/client` in Node passes `ws`).
 *
 * What it does for the caller:
 * - keeps the socket up: reconnects with exponential backoff and full jitter, or after exactly the
 *   `reconnect_after_ms` of a drain's `shutdown` (plus a little jitter);
 * - resubscribes every wanted token after a reconnect, with `since` (the last seq seen per token)
 *   and `epoch`, so the server replays what it can; what it cannot is reported as `gap`;
 * - refreshes the access token before it expires and swaps it in on the open socket (`auth`);
 * - stops for good after 4003 (session revoked) or a 4001 whose refresh failed, and says why in
 *   `closed`.
 */
import { backoffDelay, DEFAULT_BACKOFF, drainDelay, type BackoffOptions } from './backoff.ts';
import { Emitter } from './emitter.ts';
import { TokenView } from './token-view.ts';
import type {
  EpochMessage, ErrorMessage, GapMessage, Mode, NoticeMessage, Session, StatusMessage, SubscribedAck, Tick,
  WebSocketConstructor, WebSocketLike, Welcome,
} from './types.ts';

export const CLOSE_SESSION_REVOKED = 4003;
export const CLOSE_TOKEN_EXPIRED = 4001;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_NORMAL = 1000;

/** A failure the caller can act on; `code` is the server's error code or one of the SDK's own. */
export class TickgateError extends Error {
  constructor(
    /** Server codes (`invalid_credentials`, `username_taken`, …) or `unreachable`, `disconnected`, `timeout`, `session_ended`, `not_logged_in`. */
    readonly code: string,
    message: string,
    /** HTTP status, 0 when there was no HTTP answer. */
    readonly status = 0,
  ) {
    super(message);
    this.name = 'TickgateError';
  }
}

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

interface Wanted { mode: Mode; throttleMs: number }
interface Pending { resolve: (m: any) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }

/** The `exp` of a JWT in ms, or undefined. Reads the payload only: the server verifies. */
function jwtExpiry(token: string): number | undefined {
  try {
    const part = token.split('.')[1];
    if (!part) return undefined;
    const json = JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/')));
    return typeof json.exp === 'number' ? json.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

export class TickgateClient extends Emitter<ClientEvents> {
  /** The newest value per subscribed token. */
  readonly view = new TokenView();
  state: ConnectionState = 'idle';
  /** The server switched this socket to latest-value delivery (it fell behind). */
  conflating = false;
  welcome: Welcome | undefined;

  private readonly base: string;
  private readonly WS: WebSocketConstructor;
  private readonly fetchFn: typeof fetch;
  private readonly backoff: BackoffOptions;
  private readonly refreshLeadMs: number;
  private readonly requestTimeoutMs: number;
  private readonly pongTimeoutMs: number;
  private readonly sharedSession: (() => Session | undefined) | undefined;
  private readonly refreshLock: (<T>(critical: () => Promise<T>) => Promise<T>) | undefined;
  private sessionValue: Session | undefined;
  /** Refresh tokens this client has rotated away from (never adopted back from a shared store). */
  private retired = new Set<string>();
  private ws: WebSocketLike | undefined;
  private welcomed = false;
  private wanted = false;
  private everConnected = false;
  private attempt = 0;
  private drainAfterMs: number | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshing: Promise<Session> | undefined;
  private refreshFailed = false;
  private nextId = 0;
  private pending = new Map<number, Pending>();
  private subscriptions = new Map<number, Wanted>();
  private lastSeq = new Map<number, number>();
  /** Tokens whose resubscribe could not be covered: the next tick closes the gap report. */
  private pendingGap = new Map<number, number>();
  private epoch: string | undefined;
  private lastHeardAt = 0;
  private pingSentAt: number | undefined;
  private livenessTimer: ReturnType<typeof setInterval> | undefined;
  private firstConnect: { resolve: (w: Welcome) => void; reject: (e: Error) => void } | undefined;

  constructor(opts: ClientOptions) {
    super();
    this.base = opts.url.replace(/\/+$/, '');
    const WS = opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WS) throw new TypeError('no WebSocket class: pass one as `WebSocket` (in Node 20, import from "tickgate/client" which passes ws)');
    this.WS = WS;
    this.fetchFn = opts.fetch ?? ((...args: Parameters<typeof fetch>) => globalThis.fetch(...args));
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.refreshLeadMs = opts.refreshLeadMs ?? 60_000;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.pongTimeoutMs = opts.pongTimeoutMs ?? 10_000;
    this.sharedSession = opts.sharedSession;
    this.refreshLock = opts.refreshLock;
    this.sessionValue = opts.session;
  }

  get session(): Session | undefined {
    return this.sessionValue;
  }

  // ---- HTTP: accounts and sessions -------------------------------------------------------

  private async api(method: string, path: string, body?: unknown, bearer?: string): Promise<{ status: number; body: any }> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    let res: Response;
    try {
      res = await this.fetchFn(`${this.base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (err) {
      throw new TickgateError('unreachable', `cannot reach ${this.base}: ${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message}`);
    }
    const text = await res.text();
    let parsed: any;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    if (res.status >= 400) {
      const e = parsed?.error;
      const retry = res.headers.get('retry-after');
      const message = (e?.message ?? `HTTP ${res.status}`) + (retry ? ` (retry after ${retry} s)` : '');
      throw new TickgateError(typeof e?.code === 'string' ? e.code : `http_${res.status}`, message, res.status);
    }
    return { status: res.status, body: parsed };
  }

  async register(username: string, password: string): Promise<{ id: string; username: string }> {
    return (await this.api('POST', '/api/auth/register', { username, password })).body;
  }

  async login(username: string, password: string): Promise<Session> {
    const r = await this.api('POST', '/api/auth/login', { username, password });
    this.refreshFailed = false;
    return this.setSession(r.body);
  }

  /** Rotates the refresh token (one refresh at a time) and swaps the new access token into the open socket. */
  refresh(): Promise<Session> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private doRefresh(): Promise<Session> {
    return this.refreshLock ? this.refreshLock(() => this.refreshNow()) : this.refreshNow();
  }

  private async refreshNow(): Promise<Session> {
    const s = this.sessionValue;
    if (!s) throw new TickgateError('not_logged_in', 'not logged in');
    const adopted = this.adoptShared(s);
    if (adopted) return adopted;
    let r;
    try {
      r = await this.api('POST', '/api/auth/refresh', { refresh_token: s.refreshToken });
    } catch (err) {
      if (err instanceof TickgateError && err.code === 'refresh_superseded' && this.sharedSession) {
        // Someone sharing the session won the race: their pair is about to be saved.
        for (let i = 0; i < 10; i++) {
          await new Promise((r) => setTimeout(r, 100));
          const late = this.adoptShared(s);
          if (late) return late;
        }
      }
      if (err instanceof TickgateError && err.status === 401 && err.code !== 'refresh_superseded') {
        this.refreshFailed = true;
        this.sessionValue = undefined;
        this.emit('session', undefined);
      }
      throw err;
    }
    this.retired.add(s.refreshToken);
    const next = this.setSession(r.body);
    if (this.ws && this.welcomed) this.ws.send(JSON.stringify({ op: 'auth', access_token: next.accessToken }));
    return next;
  }

  /**
   * A newer pair of this session saved by someone sharing it, adopted (and swapped into the open
   * socket) instead of refreshing with a refresh token that was already rotated.
   */
  private adoptShared(current: Session): Session | undefined {
    const shared = this.sharedSession?.();
    if (!shared || shared.refreshToken === current.refreshToken || this.retired.has(shared.refreshToken)) return undefined;
    this.retired.add(current.refreshToken);
    this.sessionValue = shared;
    this.scheduleRefresh();
    if (this.ws && this.welcomed) this.ws.send(JSON.stringify({ op: 'auth', access_token: shared.accessToken }));
    return shared;
  }

  /** Ends the session on the server (its sockets close with 4003, this one included) and forgets it. */
  async logout(): Promise<void> {
    const s = this.sessionValue;
    this.wanted = false;
    this.clearTimers();
    if (s) {
      try {
        await this.api('POST', '/api/auth/logout', undefined, s.accessToken);
      } catch (err) {
        // An access token the server no longer accepts belongs to a session that is over anyway.
        if (!(err instanceof TickgateError && err.status === 401)) throw err;
      }
    }
    this.sessionValue = undefined;
    this.emit('session', undefined);
  }

  private setSession(body: { access_token: string; refresh_token: string; expires_in: number }): Session {
    const s: Session = {
      accessToken: body.access_token,
      refreshToken: body.refresh_token,
      accessExpiresAt: jwtExpiry(body.access_token) ?? Date.now() + body.expires_in * 1000,
    };
    this.sessionValue = s;
    this.emit('session', s);
    this.scheduleRefresh();
    return s;
  }

  private scheduleRefresh(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    const s = this.sessionValue;
    if (!s || !this.wanted) return;
    const left = s.accessExpiresAt - Date.now();
    const delay = Math.max(0, left - Math.min(this.refreshLeadMs, left / 3));
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      this.refresh().catch((err: unknown) => {
        // A network failure is retried while the token still lives; a refused refresh ends the session.
        if (!this.refreshFailed && this.sessionValue && this.sessionValue.accessExpiresAt - Date.now() > 1_000) {
          this.refreshTimer = setTimeout(() => this.scheduleRefresh(), 1_000);
        }
        this.emit('error', { type: 'error', code: err instanceof TickgateError ? err.code : 'refresh_failed', message: (err as Error).message });
      });
    }, delay);
  }

  // ---- the socket ---------------------------------------------------------------------------

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
      this.lastHeardAt = Date.now();
      this.pingSentAt = undefined;
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

  private clearTimers(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.reconnectTimer = this.refreshTimer = undefined;
    this.stopLiveness();
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
    this.stopLiveness();
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

  private onMessage(text: string): void {
    let m: any;
    try {
      m = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof m !== 'object' || m === null) return;
    if (m.id !== undefined && typeof m.id === 'number' && this.pending.has(m.id)) {
      const p = this.pending.get(m.id)!;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.type === 'error') p.reject(new TickgateError(m.code, m.message));
      else {
        if (m.type === 'subscribed') this.onAck(m as SubscribedAck);
        p.resolve(m);
      }
      if (m.type !== 'error') return;
    }
    switch (m.type) {
      case 'welcome': return this.onWelcome(m as Welcome);
      case 'tick': return this.onTick(m as Tick);
      case 'subscribed': return this.onAck(m as SubscribedAck);
      case 'status': {
        const st = m as StatusMessage;
        if (st.tokens) {
          if (st.state !== 'conflating') this.view.setState(st.tokens, st.state);
        } else this.conflating = st.state === 'conflating';
        return this.emit('status', st);
      }
      case 'gap': {
        const g = m as GapMessage;
        this.lastSeq.set(g.token, Math.max(this.lastSeq.get(g.token) ?? 0, g.to));
        return this.emit('gap', g);
      }
      case 'epoch': {
        this.epoch = (m as EpochMessage).epoch;
        this.lastSeq.clear();
        this.pendingGap.clear();
        return this.emit('epoch', m as EpochMessage);
      }
      case 'notice': return this.emit('notice', m as NoticeMessage);
      case 'error': return this.emit('error', m as ErrorMessage);
      case 'shutdown':
        this.drainAfterMs = Number(m.reconnect_after_ms) || 0;
        return this.emit('shutdown', { reconnectAfterMs: this.drainAfterMs });
      case 'reauth': return this.onReauth(Number(m.expires_at));
      default: return;
    }
  }

  private onWelcome(w: Welcome): void {
    const reconnect = this.everConnected;
    this.welcome = w;
    this.welcomed = true;
    this.everConnected = true;
    this.attempt = 0;
    this.drainAfterMs = undefined;
    this.state = 'connected';
    this.startLiveness(w.heartbeat_ms);
    const first = this.firstConnect;
    this.firstConnect = undefined;
    this.resubscribe();
    this.emit('connected', { welcome: w, reconnect });
    first?.resolve(w);
  }

  private startLiveness(heartbeatMs: number): void {
    this.stopLiveness();
    const quietMs = Math.max(1_000, heartbeatMs || 20_000);
    this.lastHeardAt = Date.now();
    this.pingSentAt = undefined;
    this.livenessTimer = setInterval(() => {
      const ws = this.ws;
      if (!ws || !this.welcomed) return;
      const now = Date.now();
      if (this.pingSentAt !== undefined && now - this.pingSentAt > this.pongTimeoutMs) {
        // The network died without a close: stop waiting for this socket and reconnect.
        ws.onmessage = ws.onclose = ws.onerror = null;
        try {
          ws.close(CLOSE_NORMAL);
        } catch {
          // already closing
        }
        this.onClose(1006, 'no reply from the server');
      } else if (this.pingSentAt === undefined && now - this.lastHeardAt >= quietMs) {
        this.pingSentAt = now;
        ws.send(JSON.stringify({ op: 'ping' }));
      }
    }, Math.min(1_000, quietMs / 2));
  }

  private stopLiveness(): void {
    if (this.livenessTimer) clearInterval(this.livenessTimer);
    this.livenessTimer = undefined;
  }

  private onReauth(expiresAt: number): void {
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

  private onTick(t: Tick): void {
    const from = this.pendingGap.get(t.token);
    if (from !== undefined) {
      this.pendingGap.delete(t.token);
      if (t.seq - 1 >= from) this.emit('gap', { type: 'gap', token: t.token, from, to: t.seq - 1 });
    }
    const last = this.lastSeq.get(t.token);
    if (last === undefined || t.seq > last) this.lastSeq.set(t.token, t.seq);
    this.view.apply(t);
    this.emit('tick', t);
  }

  private onAck(a: SubscribedAck): void {
    if (a.epoch && this.epoch !== undefined && a.epoch !== this.epoch) {
      // Numbering restarted while we were away: the seqs we hold mean nothing now.
      this.lastSeq.clear();
      this.pendingGap.clear();
      this.epoch = a.epoch;
      this.emit('epoch', { type: 'epoch', epoch: a.epoch });
      return;
    }
    this.epoch = a.epoch || this.epoch;
    for (const token of a.gaps ?? []) {
      const last = this.lastSeq.get(token);
      if (last !== undefined) this.pendingGap.set(token, last + 1);
    }
    for (const r of a.rejected ?? []) if (typeof r.token === 'number') this.subscriptions.delete(r.token);
  }

  private resubscribe(): void {
    const groups = new Map<string, { want: Wanted; tokens: number[] }>();
    for (const [token, want] of this.subscriptions) {
      const key = `${want.mode}/${want.throttleMs}`;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { want, tokens: [] }));
      g.tokens.push(token);
    }
    for (const { want, tokens } of groups.values()) {
      const since: Record<string, number> = {};
      for (const t of tokens) {
        const seq = this.lastSeq.get(t);
        if (seq !== undefined) since[String(t)] = seq;
      }
      const msg: Record<string, unknown> = { op: 'subscribe', tokens, mode: want.mode };
      if (want.throttleMs > 0) msg.throttle_ms = want.throttleMs;
      if (this.epoch && Object.keys(since).length) Object.assign(msg, { since, epoch: this.epoch });
      this.request(msg).catch(() => {
        // A socket that closed meanwhile resubscribes on its next welcome.
      });
    }
  }

  private request<T>(msg: Record<string, unknown>): Promise<T> {
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

  /**
   * Subscribes (or changes the mode of) tokens. Kept across reconnects. Resolves with the ack, or
   * with undefined when not connected (the subscription is sent on connect).
   */
  async subscribe(tokens: number[], opts: SubscribeOptions = {}): Promise<SubscribedAck | undefined> {
    const want: Wanted = { mode: opts.mode ?? 'quote', throttleMs: opts.throttleMs ?? 0 };
    for (const t of tokens) {
      this.subscriptions.set(t, want);
      this.view.track(t);
    }
    if (!this.welcomed) return undefined;
    const msg: Record<string, unknown> = { op: 'subscribe', tokens, mode: want.mode };
    if (want.throttleMs > 0) msg.throttle_ms = want.throttleMs;
    const ack = await this.request<SubscribedAck>(msg);
    for (const r of ack.rejected ?? []) if (typeof r.token === 'number') this.view.remove(r.token);
    return ack;
  }

  async unsubscribe(tokens: number[]): Promise<void> {
    for (const t of tokens) {
      this.subscriptions.delete(t);
      this.lastSeq.delete(t);
      this.pendingGap.delete(t);
      this.view.remove(t);
    }
    if (this.welcomed) await this.request({ op: 'unsubscribe', tokens });
  }

  /** The server's view of this socket's subscriptions: token → mode. */
  async list(): Promise<Record<string, Mode>> {
    return (await this.request<{ tokens: Record<string, Mode> }>({ op: 'list' })).tokens;
  }

  /** The tokens this client wants, with their modes (what it resubscribes after a reconnect). */
  wantedTokens(): number[] {
    return [...this.subscriptions.keys()];
  }

  /** The known tokens with their last value (`GET /api/instruments`). */
  async instruments(): Promise<{ token: number; ltp: number; ts: number; state: string }[]> {
    return (await this.api('GET', '/api/instruments')).body;
  }

  /** The logged-in user (`GET /api/me`). */
  async me(): Promise<{ id: string; username: string }> {
    const s = this.sessionValue;
    if (!s) throw new TickgateError('not_logged_in', 'not logged in');
    return (await this.api('GET', '/api/me', undefined, s.accessToken)).body;
  }
}
