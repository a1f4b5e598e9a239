/**
 * Which feeds are paused: a set of tokens plus an "every feed" flag, mirrored in Redis
 * (`Keys.pausedTokens`, `Keys.pausedAll`) so a restarted ingester keeps them paused.
 *
 * Every change is written to Redis first and applied in memory only once Redis confirmed it: an
 * operator who got `ok` can rely on the pause outliving a restart, and one who got an error knows
 * nothing changed.
 */
import type { Redis } from 'ioredis';
import type { PausedState } from '../protocol/control.ts';
import { Keys } from '../store/keys.ts';

export class PauseState {
  private all = false;
  private readonly tokens = new Set<number>();

  static async load(redis: Redis): Promise<PauseState> {
    const [members, all] = await Promise.all([redis.smembers(Keys.pausedTokens), redis.get(Keys.pausedAll)]);
    const s = new PauseState();
    s.all = all === '1';
    for (const m of members) {
      const t = Number(m);
      if (Number.isInteger(t) && t > 0) s.tokens.add(t);
    }
    return s;
  }

  /** Hot path: one boolean and, only while something is paused, one set lookup. */
  has(token: number): boolean {
    return this.all || (this.tokens.size > 0 && this.tokens.has(token));
  }

  /** The paused set as replies show it. */
  get reply(): PausedState {
    return this.all ? 'all' : [...this.tokens].sort((a, b) => a - b);
  }

  /** The individually paused tokens (also while everything is paused). */
  get pausedTokens(): ReadonlySet<number> {
    return this.tokens;
  }

  /** A frozen copy, to compare before and after a change. */
  copy(): { has(token: number): boolean; tokens: ReadonlySet<number> } {
    const all = this.all;
    const tokens = new Set(this.tokens);
    return { has: (t) => all || tokens.has(t), tokens };
  }

  /** Pauses `tokens`, or every feed when undefined. */
  async pause(redis: Redis, tokens: readonly number[] | undefined): Promise<void> {
    if (tokens === undefined) {
      await redis.set(Keys.pausedAll, '1');
      this.all = true;
      return;
    }
    await redis.sadd(Keys.pausedTokens, ...tokens.map(String));
    for (const t of tokens) this.tokens.add(t);
  }

  /**
   * Resumes `tokens`, or every feed when undefined. Resuming some tokens while every feed is
   * paused turns "all" into an explicit set: every token in `known` stays paused except those
   * named. (A token the ingester has never seen is then live when it first ticks.)
   */
  async resume(redis: Redis, tokens: readonly number[] | undefined, known: () => Iterable<number>): Promise<void> {
    if (tokens === undefined) {
      await redis.del(Keys.pausedAll, Keys.pausedTokens);
      this.all = false;
      this.tokens.clear();
      return;
    }
    if (!this.all) {
      await redis.srem(Keys.pausedTokens, ...tokens.map(String));
      for (const t of tokens) this.tokens.delete(t);
      return;
    }
    const named = new Set(tokens);
    const rest = new Set<number>();
    for (const t of known()) if (!named.has(t)) rest.add(t);
    for (const t of this.tokens) if (!named.has(t)) rest.add(t);
    const tx = redis.multi().del(Keys.pausedAll, Keys.pausedTokens);
    if (rest.size > 0) tx.sadd(Keys.pausedTokens, ...[...rest].map(String));
    const results = await tx.exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed) throw failed?.[0] ?? new Error('redis transaction aborted');
    this.all = false;
    this.tokens.clear();
    for (const t of rest) this.tokens.add(t);
  }
}
