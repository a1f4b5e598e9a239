/** Control-plane test helpers: a REQ client torn down with the test, and a feed that counts its subscribers. */
import * as zmq from 'zeromq';
import { ControlClient } from '../../src/ctl/request.ts';
import { until } from './wait.ts';

type After = { after: (fn: () => unknown) => void };

export function controlClient(t: After, endpoint: string, timeoutMs = 3_000): ControlClient {
  const c = new ControlClient(endpoint, timeoutMs);
  t.after(() => c.close());
  return c;
}

/**
 * A stand-in exchange adapter (XPUB at the feed endpoint) that counts the subscribe messages it
 * receives, so a test can wait until a (re)started ingester is connected instead of sleeping
 * (ZeroMQ drops what a PUB sends before the subscriber joined).
 */
export async function startCountingFeed(t: After, endpoint: string) {
  const pub = new zmq.XPublisher({ sendTimeout: 0 });
  pub.verbosity = 'allSubs';
  await pub.bind(endpoint);
  let closed = false;
  t.after(() => {
    closed = true;
    pub.close();
  });
  let subscribes = 0;
  void (async () => {
    try {
      for await (const [m] of pub) if (m?.[0] === 1) subscribes++;
    } catch (err) {
      // Closing the socket ends the loop with an error; anything else is a real failure.
      if (!closed) throw err;
    }
  })();
  let ltp = 1_000;
  const feed = {
    get subscribes() {
      return subscribes;
    },
    /** Resolves once at least `n` ingester subscriptions have arrived since the feed started. */
    untilSubscribed(n = 1) {
      return until(`${n} ingester subscription(s) at the feed`, () => subscribes >= n, 10_000);
    },
    /** Publishes one tick of `token`; returns its ltp (each call a new value, so ticks are told apart). */
    async tick(token: number, value = ++ltp): Promise<number> {
      await pub.send(JSON.stringify({ token, ltp: value }));
      return value;
    },
  };
  await feed.untilSubscribed(1);
  return feed;
}
