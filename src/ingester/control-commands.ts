/**
 * What the ingester does for each control request (§4): pause and resume with the status events and
 * snapshots they imply, status, demand, and the operator messages (`notify`, `announce`,
 * `disconnect`) it broadcasts to every gateway worker. control-server.ts owns the REP socket and
 * hands each parsed request to `ControlCommands.handle`.
 *
 * Kept apart from ingester.ts so the tick hot path reads on its own; this file reaches the
 * ingester only through `ControlCommandDeps`, the few things a command touches, and never
 * imports ingester.ts (no import cycle). The ingester calls straight into its own methods on the
 * tick path; the callbacks below run per control request only.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { revokeUserSessions } from '../auth/sessions.ts';
import type { ControlReply, ControlRequest, OperatorBroadcast } from '../protocol/control.ts';
import type { TokenState } from '../protocol/server-messages.ts';
import type { Tick, TickData } from '../protocol/tick.ts';
import { tokenTopic } from '../protocol/topics.ts';
import type { Books, TokenBook } from './books.ts';
import type { PauseState } from './pause-state.ts';
import type { XpubSubscribers } from './xpub-subscribers.ts';

export interface ControlCommandDeps {
  redis: Redis;
  log: Logger;
  books: Books;
  paused: PauseState;
  /** Live totals (the ingester's own stats object), read when `status` is asked. */
  stats: { readonly ticksIn: number; readonly ticksOut: number };
  subscribers: Pick<XpubSubscribers, 'demand' | 'workers'>;
  /** An ingester-wide message to every connected gateway. */
  broadcast(msg: object): void;
  /** A token-scoped status event on the token's topic. */
  sendStatus(topic: Buffer, token: number, state: TokenState): void;
  /** Publishes `data` with the token's next seq, flagged snapshot (and queues it for history). */
  publishSnapshot(book: TokenBook, data: TickData): void;
  /** Sends an already published tick again, flagged snapshot, under its own seq. */
  resendSnapshot(book: TokenBook, tick: Tick): void;
}

export class ControlCommands {
  constructor(private readonly deps: ControlCommandDeps) {}

  /** One control request (§4). Requests arrive one at a time: the REP socket serialises them. */
  async handle(req: ControlRequest): Promise<ControlReply> {
    const { deps } = this;
    switch (req.cmd) {
      case 'pause':
      case 'resume':
        return this.changePause(req.cmd, req.tokens);
      case 'status':
        return {
          ok: true, paused: deps.paused.reply, tokens: deps.books.size,
          ticks_in: deps.stats.ticksIn, ticks_out: deps.stats.ticksOut, workers: deps.subscribers.workers.size,
        };
      case 'demand':
        return { ok: true, tokens: [...deps.subscribers.demand].sort((a, b) => a - b) };
      case 'notify':
        return this.operatorBroadcast({ type: 'notify', user: req.user, message: req.message });
      case 'announce':
        return this.operatorBroadcast({ type: 'announce', tokens: req.tokens, message: req.message });
      case 'disconnect':
        if (req.revoke) {
          // Sessions first: once the sockets close, the client's reconnect and refresh must fail.
          // Redis trouble is answered as such; the sockets are then left alone (nothing half-done).
          try {
            const sessions = await revokeUserSessions(deps.redis, req.user);
            deps.log.info({ user: req.user, sessions }, 'operator revoked a user\'s sessions');
          } catch (err) {
            deps.log.warn({ err, user: req.user }, 'could not revoke sessions');
            return { ok: false, error: 'unavailable: the sessions could not be revoked (Redis)' };
          }
        }
        return this.operatorBroadcast({ type: 'disconnect', user: req.user });
    }
  }

  /** Gateways act on operator messages themselves (src/gateway/operator-actions.ts). */
  private operatorBroadcast(msg: OperatorBroadcast): ControlReply {
    this.deps.broadcast(msg);
    this.deps.log.info({ op: msg.type, ...('user' in msg ? { user: msg.user } : { tokens: msg.tokens }) }, 'operator message sent to gateways');
    return { ok: true };
  }

  /**
   * Applies a pause or resume (Redis first, see PauseState), then tells the subscribers of every
   * token whose state changed: `paused`; or `live` followed at once by the newest value as a
   * snapshot tick (the held value with the next seq, else the last published tick as it was).
   */
  private async changePause(cmd: 'pause' | 'resume', tokens: number[] | undefined): Promise<ControlReply> {
    const { deps } = this;
    const { books, paused } = deps;
    const before = paused.copy();
    const known = () => this.knownTokens();
    try {
      if (cmd === 'pause') await paused.pause(deps.redis, tokens);
      else await paused.resume(deps.redis, tokens, known);
    } catch (err) {
      deps.log.warn({ err, cmd }, 'pause state not saved');
      return { ok: false, error: 'redis unavailable: the pause state was not changed' };
    }
    const candidates = new Set<number>(tokens ?? known());
    for (const t of before.tokens) candidates.add(t);
    let changed = 0;
    for (const token of candidates) {
      const was = before.has(token);
      const is = paused.has(token);
      if (was === is) continue;
      changed++;
      const book = books.get(token);
      if (is) {
        deps.sendStatus(book?.topic ?? tokenTopic(token), token, 'paused');
        continue;
      }
      deps.sendStatus(book?.topic ?? tokenTopic(token), token, 'live');
      if (!book) continue;
      // Just announced live: staleness counts afresh from the resume, not from before the pause.
      if (book.stale) {
        book.stale = false;
        books.dirtyStale.add(token);
      }
      book.freshAt = Date.now();
      if (book.held) {
        const held = book.held;
        book.held = undefined;
        books.dirtyHeld.add(token);
        deps.publishSnapshot(book, held);
      } else if (book.last) {
        // Re-sent as it was: its seq is already issued (and in history).
        deps.resendSnapshot(book, book.last);
      }
    }
    // Lists are cut short: a request may name 10,000 tokens.
    const reply = paused.reply;
    deps.log.info({
      cmd, tokens: tokens ? tokens.slice(0, 50) : 'all', named: tokens?.length, changed,
      paused: reply === 'all' ? reply : reply.slice(0, 50), pausedCount: reply === 'all' ? undefined : reply.length,
    }, cmd === 'pause' ? 'feeds paused' : 'feeds resumed');
    return { ok: true, paused: reply };
  }

  /** Every token a status change may concern: known to the feed or wanted by some gateway. */
  private *knownTokens(): Iterable<number> {
    const { books, subscribers } = this.deps;
    yield* books.keys();
    for (const t of subscribers.demand) if (!books.has(t)) yield t;
  }
}
