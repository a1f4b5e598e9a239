/**
 * What every scenario gets (its context) and the steps they share: a feed publisher of their own,
 * and a session per server, run one after the other and always closed.
 */
import { freePort } from '../start/embedded-redis.ts';
import { FeedPublisher } from './feed-publisher.ts';
import type { ScenarioReport } from './report.ts';
import { Session, type Shape } from './session.ts';
import type { TargetKind } from './targets.ts';

export interface ScenarioContext {
  quick: boolean;
  /** Measurement window, seconds. */
  durationS: number;
  /** Extra warm-up once every token ticks, seconds. */
  warmupS: number;
  /** --rate: the offered rate of the steady fan-out and stalled-readers scenarios. */
  rate?: number;
  /** --connections: sockets in the fan-out, ramp, stalled, idle and storm scenarios. */
  connections?: number;
  /** --ramp: the ramp's rates. */
  rampRates?: number[];
  clientProcesses: number;
  /** Servers to measure, in this order (the baseline first). */
  targets: readonly TargetKind[];
  /** Scenarios already run in this bench run (the stalled readers run at half the ramp's knee). */
  earlier: ReadonlyMap<string, ScenarioReport>;
  /** A private temp directory for this scenario. */
  dir: string;
  signal: AbortSignal;
  say: (line: string) => void;
}

export interface ScenarioDef {
  name: string;
  /** One line: what it stresses. */
  about: string;
  run(ctx: ScenarioContext): Promise<ScenarioReport>;
}

/** Runs `fn` with a feed publisher bound on a free loopback port (idle until a session sets a rate). */
export async function withFeed<T>(tokens: number, fn: (feed: FeedPublisher, endpoint: string) => Promise<T>): Promise<T> {
  const endpoint = `tcp://127.0.0.1:${await freePort()}`;
  const feed = await FeedPublisher.bind(endpoint, tokens, 0);
  feed.start();
  try {
    return await fn(feed, endpoint);
  } finally {
    feed.close();
  }
}

/** One session per server in `ctx.targets`, one after the other; each closed whatever happened. */
export async function eachTarget(
  ctx: ScenarioContext, feed: FeedPublisher, endpoint: string, shape: Shape,
  fn: (session: Session) => Promise<void>, env?: Record<string, string>,
): Promise<void> {
  for (const kind of ctx.targets) {
    ctx.signal.throwIfAborted();
    const session = await Session.start(shape, {
      kind, feed, feedEndpoint: endpoint, dir: ctx.dir, clientProcesses: ctx.clientProcesses, signal: ctx.signal, say: ctx.say, env,
    });
    try {
      await fn(session);
    } finally {
      await session.close();
    }
  }
}

export const perSecond = (n: number) => `${Math.round(n).toLocaleString('en-US')}/s`;
