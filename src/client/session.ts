/**
 * The account and session half of TickgateClient: register, login, refresh, logout, and the timer
 * that refreshes the access token before it expires. TickgateClient (client.ts) extends it with the
 * socket; the two meet only through the hooks below, so each file reads on its own.
 */
import { Emitter } from './emitter.ts';
import { TickgateError } from './error.ts';
import type { ClientEvents } from './events.ts';
import { httpApi, type ApiCall } from './http-api.ts';
import type { ClientOptions } from './options.ts';
import type { Session } from './types.ts';

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

export abstract class SessionClient extends Emitter<ClientEvents> {
  protected readonly base: string;
  protected readonly api: ApiCall;
  private readonly refreshLeadMs: number;
  private readonly sharedSession: (() => Session | undefined) | undefined;
  private readonly refreshLock: (<T>(critical: () => Promise<T>) => Promise<T>) | undefined;
  protected sessionValue: Session | undefined;
  /** The caller wants the socket up; the refresh timer runs only then. */
  protected wanted = false;
  /** A refresh was refused (401): the session is over, so the socket must not retry with it. */
  protected refreshFailed = false;
  /** Refresh tokens this client has rotated away from (never adopted back from a shared store). */
  private retired = new Set<string>();
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshing: Promise<Session> | undefined;

  constructor(opts: ClientOptions) {
    super();
    this.base = opts.url.replace(/\/+$/, '');
    const fetchFn = opts.fetch ?? ((...args: Parameters<typeof fetch>) => globalThis.fetch(...args));
    this.api = httpApi(this.base, fetchFn);
    this.refreshLeadMs = opts.refreshLeadMs ?? 60_000;
    this.sharedSession = opts.sharedSession;
    this.refreshLock = opts.refreshLock;
    this.sessionValue = opts.session;
  }

  /** Puts a new access token on the open socket, if there is one (the socket lives in the subclass). */
  protected abstract swapAccessToken(accessToken: string): void;

  get session(): Session | undefined {
    return this.sessionValue;
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
    this.swapAccessToken(next.accessToken);
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
    this.swapAccessToken(shared.accessToken);
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

  protected scheduleRefresh(): void {
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

  /** Stops the refresh timer; the subclass adds its own timers. */
  protected clearTimers(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
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
