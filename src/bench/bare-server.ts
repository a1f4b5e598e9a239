/**
 * The bench's baseline: the least a uWebSockets.js server must do to fan the same feed out, with
 * none of tickgate's guarantees (no auth, no seq checks or history, no snapshots, no flow control
 * beyond uWS's own). Run as a child process by the bench:
 *
 *   node --import tsx src/bench/bare-server.ts <feed endpoint>
 *
 * It SUBs the same ZeroMQ feed the ingester reads (contract §3, two-frame form), turns each tick
 * into an ltp-mode message shaped like tickgate's (`{"type":"tick","token":T,"seq":S,"ts":…,
 * "ltp":…}`, so the same clients measure it the same way) and hands it to `app.publish` on one
 * topic per token. A client subscribes by sending `{"op":"subscribe","tokens":[…]}` and gets
 * `{"type":"subscribed"}`. It prints `listening <port>` on stdout once it accepts sockets.
 */
import uws from 'uWebSockets.js';
import * as zmq from 'zeromq';

/** The same per-socket send-buffer bound as tickgate's hard limit, so stalled readers compare. */
const MAX_BACKPRESSURE_BYTES = 4 * 1024 * 1024;

const feedEndpoint = process.argv[2];
if (!feedEndpoint) {
  console.error('usage: bare-server.ts <feed endpoint>');
  process.exit(2);
}

const app = uws.App();
const decoder = new TextDecoder();
app.ws('/*', {
  compression: uws.DISABLED,
  maxPayloadLength: 64 * 1024,
  idleTimeout: 0,
  sendPingsAutomatically: false,
  maxBackpressure: MAX_BACKPRESSURE_BYTES,
  message: (ws, message) => {
    let req: { op?: unknown; tokens?: unknown; id?: unknown };
    try {
      req = JSON.parse(decoder.decode(message)) as typeof req;
    } catch {
      return;
    }
    if (req.op !== 'subscribe' && req.op !== 'unsubscribe') return;
    const tokens = Array.isArray(req.tokens) ? req.tokens.filter((t): t is number => Number.isInteger(t)) : [];
    for (const t of tokens) {
      if (req.op === 'subscribe') ws.subscribe(String(t));
      else ws.unsubscribe(String(t));
    }
    ws.send(JSON.stringify({ type: req.op === 'subscribe' ? 'subscribed' : 'unsubscribed', id: req.id ?? null, tokens }));
  },
});

const seqs = new Map<number, number>();
const sub = new zmq.Subscriber();
sub.receiveHighWaterMark = 100_000;
sub.subscribe();
sub.connect(feedEndpoint);

app.listen('127.0.0.1', 0, (listenSocket) => {
  if (!listenSocket) {
    console.error('bare-server: cannot listen');
    process.exit(1);
  }
  console.log(`listening ${uws.us_socket_local_port(listenSocket)}`);
});

for await (const frames of sub) {
  const body = frames[frames.length - 1]!;
  let tick: { token?: unknown; ltp?: unknown; ts?: unknown };
  try {
    tick = JSON.parse(body.toString('utf8')) as typeof tick;
  } catch {
    continue;
  }
  if (!Number.isInteger(tick.token) || typeof tick.ltp !== 'number') continue;
  const token = tick.token as number;
  const seq = (seqs.get(token) ?? 0) + 1;
  seqs.set(token, seq);
  const ts = typeof tick.ts === 'number' ? tick.ts : Date.now();
  app.publish(String(token), `{"type":"tick","token":${token},"seq":${seq},"ts":${ts},"ltp":${tick.ltp}}`, false);
}
