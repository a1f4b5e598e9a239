/**
 * `tickgate ctl tap [--feed E | --ingest E] [TOKEN...]`: what a ZeroMQ endpoint publishes, decoded,
 * one line per message on stdout, with the rate and drop counts on stderr every few seconds and
 * at the end. The operator's "is the bus alive" check:
 *
 *   0  stopped (Ctrl-C, or --count messages seen)
 *   2  usage error
 *   3  no message within --idle seconds of starting
 *
 * --ingest (the default, at INGEST_BIND) decodes the ingester's XPUB: ticks
 * `[topic, meta, ltp, quote, full]`, statuses `[topic, json]`, broadcasts on `b`; drops are seq
 * jumps per token within one epoch. --feed decodes a feed PUB (§3); a feed has no seq, so drops
 * there are the frames that are not valid feed messages.
 */
import { clientOptions, loadClientCurve } from '../zmq/curve.ts';
import * as zmq from 'zeromq';
import { parseCommandLine } from '../cli/command-line.ts';
import { BROADCAST_TOPIC, tokenOfTopic, tokenTopic } from '../protocol/topics.ts';
import { epochString, isTickMeta, readTickMetaSeq, splitTickMessage } from '../protocol/tick-meta.ts';
import { isToken } from '../protocol/tick.ts';

export const TAP_USAGE = `usage: tickgate ctl tap [--feed E | --ingest E] [TOKEN...] [--idle S] [--count N]

  --ingest E   the ingester's XPUB (default: INGEST_BIND); ticks show token, seq, epoch and value
  --feed E     a feed PUB (FEED_BIND of the simulator, or an exchange adapter); shows each tick as sent
  TOKEN...     only these tokens (default: everything)
  --idle S     exit 3 if no message arrives within S seconds of starting (default 5)
  --count N    exit 0 after N messages`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  feed: { type: 'string' },
  ingest: { type: 'string' },
  idle: { type: 'string' },
  count: { type: 'string' },
} as const;

export interface TapIo { out(line: string): void; err(line: string): void }
const stdio: TapIo = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) };

const ENDPOINT_RE = /^(tcp|ipc|inproc):\/\/\S+$/;

function time(): string {
  return new Date().toISOString().slice(11, 23);
}

/** Decodes one ingest XPUB message. `seqs` tracks continuity (token → last seq, per epoch). */
export function describeIngest(message: Buffer[], seqs: Map<number, { epoch: string; seq: number }>): { line: string; token?: number; dropped: number } {
  const frames = splitTickMessage(message) ?? message;
  const [topic, ...rest] = frames;
  if (!topic) return { line: 'empty message', dropped: 0 };
  if (topic.equals(BROADCAST_TOPIC)) return { line: `broadcast ${rest.map((f) => f.toString('utf8')).join(' ')}`, dropped: 0 };
  const token = tokenOfTopic(topic);
  if (token === undefined) return { line: `unknown topic 0x${topic.toString('hex')} (${message.length} frames)`, dropped: 0 };
  if (rest.length === 4 && isTickMeta(rest[0]!)) {
    const epoch = epochString(rest[0]!);
    const seq = readTickMetaSeq(rest[0]!);
    const prev = seqs.get(token);
    let dropped = 0;
    let note = '';
    if (prev && prev.epoch === epoch && seq > prev.seq + 1) {
      dropped = seq - prev.seq - 1;
      note = ` (${dropped} missed: ${prev.seq + 1}..${seq - 1})`;
    } else if (prev && prev.epoch !== epoch) note = ' (new epoch)';
    if (!prev || prev.epoch !== epoch || seq > prev.seq) seqs.set(token, { epoch, seq });
    return { line: `tick ${token} seq ${seq} epoch ${epoch.slice(0, 8)} ${rest[2]!.toString('utf8')}${note}`, token, dropped };
  }
  if (rest.length === 1) return { line: `event ${token} ${rest[0]!.toString('utf8')}`, token, dropped: 0 };
  return { line: `token ${token}: unexpected ${message.length}-frame message`, token, dropped: 0 };
}

/** Decodes one feed message (§3): `[token ascii, json]` or `[json]`. */
export function describeFeed(frames: Buffer[]): { line: string; token?: number; dropped: number } {
  const json = frames.length === 2 ? frames[1]! : frames.length === 1 ? frames[0]! : undefined;
  if (!json) return { line: `invalid: ${frames.length} frames`, dropped: 1 };
  try {
    const v = JSON.parse(json.toString('utf8')) as { token?: unknown; ltp?: unknown };
    if (!isToken(v.token) || typeof v.ltp !== 'number') return { line: `invalid: ${json.toString('utf8').slice(0, 120)}`, dropped: 1 };
    return { line: `feed ${v.token} ${json.toString('utf8')}`, token: v.token, dropped: 0 };
  } catch {
    return { line: `invalid JSON: ${json.toString('utf8').slice(0, 120)}`, dropped: 1 };
  }
}

/**
 * `curveDir` (ZMQ_CURVE_DIR): with CURVE on, the ingest endpoint admits only listed client keys, so
 * the tap connects to it with this host's client key pair (a feed endpoint is not CURVE).
 */
export async function runTap(argv: readonly string[], defaultIngest: string, io: TapIo = stdio, curveDir?: string): Promise<number> {
  const cl = parseCommandLine(argv, OPTIONS);
  const fail = (msg: string) => (io.err(`tickgate ctl tap: ${msg}\n\n${TAP_USAGE}`), 2);
  if (!cl.ok) return fail(cl.error);
  const { values, positionals } = cl;
  if (values.help) return io.out(TAP_USAGE), 0;
  if (values.feed !== undefined && values.ingest !== undefined) return fail('give --feed or --ingest, not both');
  const kind = values.feed !== undefined ? 'feed' : 'ingest';
  const endpoint = values.feed ?? values.ingest ?? defaultIngest;
  if (!ENDPOINT_RE.test(endpoint)) return fail(`not a ZeroMQ endpoint: ${endpoint}`);
  const tokens: number[] = [];
  for (const p of positionals) {
    const n = /^\d+$/.test(p) ? Number(p) : NaN;
    if (!isToken(n)) return fail(`not a token (an integer in 1..4294967295): "${p}"`);
    tokens.push(n);
  }
  const idleS = values.idle === undefined ? 5 : Number(values.idle);
  if (!(idleS > 0 && idleS <= 3600)) return fail('--idle needs seconds in (0, 3600]');
  const count = values.count === undefined ? Infinity : Number(values.count);
  if (!(Number.isInteger(count) && count > 0) && count !== Infinity) return fail('--count needs a positive integer');

  const curve = kind === 'ingest' && curveDir ? clientOptions(loadClientCurve(curveDir)) : {};
  const sub = new zmq.Subscriber({ ...curve, linger: 0, receiveHighWaterMark: 100_000 });
  sub.connect(endpoint);
  // The ingest XPUB filters by topic (exactly these tokens, plus broadcasts); a feed's first frame is
  // decimal text, where a prefix would also match longer tokens, so the feed is filtered here.
  if (kind === 'ingest' && tokens.length) {
    for (const t of tokens) sub.subscribe(tokenTopic(t));
    sub.subscribe(BROADCAST_TOPIC);
  } else sub.subscribe();
  const wanted = tokens.length ? new Set(tokens) : undefined;
  const seqs = new Map<number, { epoch: string; seq: number }>();
  const started = Date.now();
  let messages = 0;
  let dropped = 0;
  let windowStart = Date.now();
  let windowCount = 0;
  const summary = () => {
    const s = (Date.now() - started) / 1000;
    return `${messages} messages in ${s.toFixed(1)} s (${(messages / Math.max(s, 0.001)).toFixed(1)}/s), ${dropped} ${kind === 'ingest' ? 'dropped (seq gaps)' : 'invalid'}`;
  };
  io.err(`tap: listening on ${endpoint} (${kind})${tokens.length ? ` for ${tokens.join(' ')}` : ''}`);

  let stopReason: 'count' | 'signal' | 'idle' | undefined;
  const stop = (why: 'count' | 'signal' | 'idle') => {
    stopReason ??= why;
    sub.close();
  };
  const onSignal = () => stop('signal');
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const idleTimer = setTimeout(() => {
    if (messages === 0) stop('idle');
  }, idleS * 1000);
  const rateTimer = setInterval(() => {
    const now = Date.now();
    io.err(`tap: ${(windowCount / ((now - windowStart) / 1000)).toFixed(1)} msg/s now; ${summary()}`);
    if (windowCount === 0 && messages > 0) io.err(`tap: no messages for ${((now - windowStart) / 1000).toFixed(0)} s`);
    windowStart = now;
    windowCount = 0;
  }, 5_000);
  try {
    for await (const frames of sub) {
      const d = kind === 'ingest' ? describeIngest(frames, seqs) : describeFeed(frames);
      if (wanted && d.token !== undefined && !wanted.has(d.token)) continue;
      messages++;
      windowCount++;
      dropped += d.dropped;
      io.out(`${time()} ${d.line}`);
      if (messages >= count) stop('count');
    }
  } catch (err) {
    if (!stopReason) throw err;
  } finally {
    clearTimeout(idleTimer);
    clearInterval(rateTimer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (!sub.closed) sub.close();
  }
  if (stopReason === 'idle') {
    io.err(`tickgate ctl tap: no messages within ${idleS} s from ${endpoint}`);
    return 3;
  }
  io.err(`tap: ${summary()}`);
  return 0;
}
