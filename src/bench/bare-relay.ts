/**
 * The ingest-only scenario's baseline: the least a Node process must do to move the same feed
 * through zeromq.js, with none of the ingester's work (no validation, no seq, no encodings, no
 * history, no Redis). It SUBs the feed (contract §3, two-frame form) and forwards each message
 * to its own XPUB as `[token topic, feed JSON]` when some subscriber is there, just as the
 * ingester sends only what is wanted. What it costs per tick is the floor that zeromq.js's
 * receive and send set on this machine, measured in the same run as the ingester.
 *
 * Run as a forked child by ingest-only.ts: `bare-relay.ts <feed endpoint> <bind endpoint>`. It
 * answers `{report:true}` on its IPC channel with `{ received, sent }`, and `{bound:true}` once
 * bound; `{stop:true}` ends it.
 */
import * as zmq from 'zeromq';
import { tokenTopic } from '../protocol/topics.ts';

const [feedEndpoint, bindEndpoint] = process.argv.slice(2);
if (!feedEndpoint || !bindEndpoint || !process.send) {
  console.error('usage (forked, with an IPC channel): bare-relay.ts <feed endpoint> <bind endpoint>');
  process.exit(2);
}

const xpub = new zmq.XPublisher({ sendHighWaterMark: 100_000, sendTimeout: 0 });
const sub = new zmq.Subscriber({ receiveHighWaterMark: 100_000 });
/** Token topics by the feed's ASCII token frame, built once per token. */
const topics = new Map<string, Buffer>();
let subscriptions = 0;
let received = 0;
let sent = 0;

// The bench went away (Ctrl-C, a crash): no orphan relay left holding its ports.
process.on('disconnect', () => process.exit(0));
process.on('message', (m: { report?: boolean; stop?: boolean }) => {
  if (m.report) process.send!({ received, sent });
  if (m.stop) {
    sub.close();
    xpub.close();
    process.exit(0);
  }
});

await xpub.bind(bindEndpoint);
sub.connect(feedEndpoint);
sub.subscribe();
process.send({ bound: true });

void (async () => {
  // XPUB subscription reports: 0x01 + topic on the first subscriber of a topic, 0x00 on the last leaving.
  for (;;) {
    const [msg] = await xpub.receive();
    if (msg?.[0] === 1) subscriptions++;
    else if (msg?.[0] === 0) subscriptions--;
  }
})().catch(() => undefined);

const fail = (): undefined => undefined;
for (;;) {
  let frames: Buffer[];
  try {
    frames = await sub.receive();
  } catch {
    break; // closed
  }
  received++;
  if (subscriptions === 0 || frames.length !== 2) continue;
  const key = frames[0]!.toString('latin1');
  let topic = topics.get(key);
  if (topic === undefined) topics.set(key, (topic = tokenTopic(Number(key))));
  xpub.send([topic, frames[1]!]).catch(fail);
  sent++;
}
