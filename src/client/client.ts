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
 *
 * Built in layers so each file holds one concern: SessionClient (session.ts) the accounts and the
 * token refresh, Connection (connection.ts) the socket and its reconnects, and this class the
 * messages, the subscriptions (resume bookkeeping in subscriptions.ts) and the token view.
 */
import { Connection } from './connection.ts';
import { TickgateError } from './error.ts';
import type { SubscribeOptions } from './options.ts';
import { Subscriptions, type Wanted } from './subscriptions.ts';
import { TokenView } from './token-view.ts';
import type {
  EpochMessage, ErrorMessage, GapMessage, Mode, NoticeMessage, StatusMessage, SubscribedAck, Tick, Welcome,
} from './types.ts';

// Re-exported so the public entry points (index.ts, node.ts) keep importing everything from here.
export { TickgateError } from './error.ts';
export type { ClientEvents, ConnectionState } from './events.ts';
export type { ClientOptions, SubscribeOptions } from './options.ts';

export class TickgateClient extends Connection {
  /** The newest value per subscribed token. */
  readonly view = new TokenView();

  private subs = new Subscriptions();

  protected override onMessage(text: string): void {
    let m: any;
    try {
      m = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof m !== 'object' || m === null) return;
    const p = this.takePending(m.id);
    if (p) {
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
        this.subs.onGap(g);
        return this.emit('gap', g);
      }
      case 'epoch': {
        this.subs.onEpoch((m as EpochMessage).epoch);
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

  private onTick(t: Tick): void {
    const gap = this.subs.onTick(t);
    if (gap) this.emit('gap', gap);
    this.view.apply(t);
    this.emit('tick', t);
  }

  private onAck(a: SubscribedAck): void {
    const epoch = this.subs.onAck(a);
    if (epoch) this.emit('epoch', epoch);
  }

  protected override resubscribe(): void {
    for (const msg of this.subs.resubscribeMessages()) {
      this.request(msg).catch(() => {
        // A socket that closed meanwhile resubscribes on its next welcome.
      });
    }
  }

  /**
   * Subscribes (or changes the mode of) tokens. Kept across reconnects. Resolves with the ack, or
   * with undefined when not connected (the subscription is sent on connect).
   */
  async subscribe(tokens: number[], opts: SubscribeOptions = {}): Promise<SubscribedAck | undefined> {
    const want: Wanted = { mode: opts.mode ?? 'quote', throttleMs: opts.throttleMs ?? 0 };
    this.subs.want(tokens, want);
    for (const t of tokens) this.view.track(t);
    if (!this.welcomed) return undefined;
    const msg: Record<string, unknown> = { op: 'subscribe', tokens, mode: want.mode };
    if (want.throttleMs > 0) msg.throttle_ms = want.throttleMs;
    const ack = await this.request<SubscribedAck>(msg);
    for (const r of ack.rejected ?? []) if (typeof r.token === 'number') this.view.remove(r.token);
    return ack;
  }

  async unsubscribe(tokens: number[]): Promise<void> {
    this.subs.drop(tokens);
    for (const t of tokens) this.view.remove(t);
    if (this.welcomed) await this.request({ op: 'unsubscribe', tokens });
  }

  /** The server's view of this socket's subscriptions: token → mode. */
  async list(): Promise<Record<string, Mode>> {
    return (await this.request<{ tokens: Record<string, Mode> }>({ op: 'list' })).tokens;
  }

  /** The tokens this client wants, with their modes (what it resubscribes after a reconnect). */
  wantedTokens(): number[] {
    return this.subs.tokens();
   }
}
