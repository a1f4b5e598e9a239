/**
 * What the client has subscribed to and how far it got, so a reconnect can ask the server to
 * resume where it left off: the wanted tokens with their modes, the last seq seen per token, the
 * epoch those seqs belong to, and the tokens whose replay the server could not cover (their gap
 * is reported when the next tick shows where it ends). Pure bookkeeping: the client emits.
 */
import type { EpochMessage, GapMessage, Mode, SubscribedAck, Tick } from './types.ts';

export interface Wanted { mode: Mode; throttleMs: number }

export class Subscriptions {
  private wanted = new Map<number, Wanted>();
  private lastSeq = new Map<number, number>();
  /** Tokens whose resubscribe could not be covered: the next tick closes the gap report. */
  private pendingGap = new Map<number, number>();
  private epoch: string | undefined;

  want(tokens: number[], want: Wanted): void {
    for (const t of tokens) this.wanted.set(t, want);
  }

  drop(tokens: number[]): void {
    for (const t of tokens) {
      this.wanted.delete(t);
      this.lastSeq.delete(t);
      this.pendingGap.delete(t);
    }
  }

  tokens(): number[] {
    return [...this.wanted.keys()];
  }

  /** Records the tick's seq; returns the gap it closes, if a resubscribe left one open. */
  onTick(t: Tick): GapMessage | undefined {
    let gap: GapMessage | undefined;
    const from = this.pendingGap.get(t.token);
    if (from !== undefined) {
      this.pendingGap.delete(t.token);
      if (t.seq - 1 >= from) gap = { type: 'gap', token: t.token, from, to: t.seq - 1 };
    }
    const last = this.lastSeq.get(t.token);
    if (last === undefined || t.seq > last) this.lastSeq.set(t.token, t.seq);
    return gap;
  }

  /** The server reported a gap: what it skipped is not to be asked for again. */
  onGap(g: GapMessage): void {
    this.lastSeq.set(g.token, Math.max(this.lastSeq.get(g.token) ?? 0, g.to));
  }

  onEpoch(epoch: string): void {
    this.epoch = epoch;
    this.lastSeq.clear();
    this.pendingGap.clear();
  }

  /** Takes in a subscribe ack; returns the epoch change it revealed, if any. */
  onAck(a: SubscribedAck): EpochMessage | undefined {
    if (a.epoch && this.epoch !== undefined && a.epoch !== this.epoch) {
      // Numbering restarted while we were away: the seqs we hold mean nothing now.
      this.onEpoch(a.epoch);
      return { type: 'epoch', epoch: a.epoch };
    }
    this.epoch = a.epoch || this.epoch;
    for (const token of a.gaps ?? []) {
      const last = this.lastSeq.get(token);
      if (last !== undefined) this.pendingGap.set(token, last + 1);
    }
    for (const r of a.rejected ?? []) if (typeof r.token === 'number') this.wanted.delete(r.token);
    return undefined;
  }

  /** The subscribe requests that restore every wanted token after a reconnect, one per mode and throttle. */
  resubscribeMessages(): Record<string, unknown>[] {
    const groups = new Map<string, { want: Wanted; tokens: number[] }>();
    for (const [token, want] of this.wanted) {
      const key = `${want.mode}/${want.throttleMs}`;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { want, tokens: [] }));
      g.tokens.push(token);
    }
    const msgs: Record<string, unknown>[] = [];
    for (const { want, tokens } of groups.values()) {
      const since: Record<string, number> = {};
      for (const t of tokens) {
        const seq = this.lastSeq.get(t);
        if (seq !== undefined) since[String(t)] = seq;
      }
      const msg: Record<string, unknown> = { op: 'subscribe', tokens, mode: want.mode };
      if (want.throttleMs > 0) msg.throttle_ms = want.throttleMs;
      if (this.epoch && Object.keys(since).length) Object.assign(msg, { since, epoch: this.epoch });
      msgs.push(msg);
    }
    return msgs;
  }
}
