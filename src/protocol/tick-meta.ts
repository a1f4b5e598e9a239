/**
 * The tick message on the ingest XPUB, two frames:
 *
 *   frame 1, 33 bytes:  topic (5: `t` + token u32 BE, see topics.ts) | meta (24) | ltpLen u16 BE | quoteLen u16 BE
 *   frame 2:            ltpJson + quoteJson + fullJson, back to back (ASCII: numbers and fixed keys)
 *
 * ZeroMQ matches subscriptions against the start of the first frame, so the topic leads it. Two
 * frames rather than five: each frame is a separate conversion and `zmq_msg_send` in zeromq.js,
 * and the single text frame is converted once. A gateway splits the message back into the views
 * `[topic, meta, ltp, quote, full]` (`splitTickMessage`), without copying.
 *
 * The meta, fixed 24 bytes, lets a gateway check each token's seq continuity and the epoch
 * without parsing JSON:
 *
 *   offset 0..15   the epoch: the 16 raw bytes of its UUID (the hex digits of the canonical
 *                  8-4-4-4-12 form, in order)
 *   offset 16..23  the tick's seq as an unsigned 64-bit big-endian integer, written as two
 *                  uint32 BE words (high word, then low word)
 *
 * Two uint32 words instead of BigInt: no BigInt allocation per tick, and a JS number holds every
 * seq exactly up to 2^53 (at a million ticks per second for one token, that is 285 years). Any
 * other language reads offset 16 as a plain u64 BE.
 */
import { TOKEN_TOPIC_BYTES } from './topics.ts';

export const TICK_META_BYTES = 24;
export const EPOCH_BYTES = 16;
const SEQ_OFFSET = 16;
const TWO_32 = 0x1_0000_0000;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a string is a UUID in canonical form (what an epoch must be to fit the meta frame). */
export function isEpochString(s: string): boolean {
  return UUID_RE.test(s);
}

/** The 16 raw bytes of an epoch UUID. Throws on anything but a canonical UUID (a bug upstream). */
export function epochBytes(uuid: string): Buffer {
  if (!isEpochString(uuid)) throw new Error(`not a UUID epoch: ${JSON.stringify(uuid)}`);
  return Buffer.from(uuid.replaceAll('-', ''), 'hex');
}

/** The canonical UUID string of 16 epoch bytes (or of the first 16 bytes of a meta frame). */
export function epochString(bytes: Buffer): string {
  const h = bytes.toString('hex', 0, EPOCH_BYTES);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** A fresh meta frame. A new buffer per tick: ZeroMQ may hold on to a sent buffer. */
export function encodeTickMeta(epoch: Buffer, seq: number): Buffer {
  const b = Buffer.allocUnsafe(TICK_META_BYTES);
  writeMeta(b, 0, epoch, seq);
  return b;
}

function writeMeta(b: Buffer, at: number, epoch: Buffer, seq: number): void {
  epoch.copy(b, at, 0, EPOCH_BYTES);
  b.writeUInt32BE(Math.floor(seq / TWO_32), at + SEQ_OFFSET);
  b.writeUInt32BE(seq >>> 0, at + SEQ_OFFSET + 4);
}

export const TICK_HEAD_BYTES = TOKEN_TOPIC_BYTES + TICK_META_BYTES + 4;

/**
 * The first frame of a tick message (a fresh buffer per tick, small enough that ZeroMQ copies it).
 * The second is `ltp + quote + full` as one string.
 */
export function encodeTickHead(topic: Buffer, epoch: Buffer, seq: number, ltpLength: number, quoteLength: number): Buffer {
  if (ltpLength > 0xffff || quoteLength > 0xffff) throw new RangeError(`tick encoding too long: ${ltpLength}, ${quoteLength}`);
  const b = Buffer.allocUnsafe(TICK_HEAD_BYTES);
  topic.copy(b, 0, 0, TOKEN_TOPIC_BYTES);
  writeMeta(b, TOKEN_TOPIC_BYTES, epoch, seq);
  b.writeUInt16BE(ltpLength, TOKEN_TOPIC_BYTES + TICK_META_BYTES);
  b.writeUInt16BE(quoteLength, TOKEN_TOPIC_BYTES + TICK_META_BYTES + 2);
  return b;
}

/**
 * A tick message as the views `[topic, meta, ltpJson, quoteJson, fullJson]` into its two frames
 * (no copy), or undefined when `frames` is not a well-formed tick message.
 */
export function splitTickMessage(frames: Buffer[]): Buffer[] | undefined {
  if (frames.length !== 2) return undefined;
  const [head, body] = frames as [Buffer, Buffer];
  if (head.length !== TICK_HEAD_BYTES) return undefined;
  const ltpEnd = head.readUInt16BE(TOKEN_TOPIC_BYTES + TICK_META_BYTES);
  const quoteEnd = ltpEnd + head.readUInt16BE(TOKEN_TOPIC_BYTES + TICK_META_BYTES + 2);
  if (quoteEnd > body.length) return undefined;
  return [
    head.subarray(0, TOKEN_TOPIC_BYTES), head.subarray(TOKEN_TOPIC_BYTES, TOKEN_TOPIC_BYTES + TICK_META_BYTES),
    body.subarray(0, ltpEnd), body.subarray(ltpEnd, quoteEnd), body.subarray(quoteEnd),
  ];
}

/** Whether a frame has the meta frame's size (check before reading it). */
export function isTickMeta(frame: Buffer): boolean {
  return frame.length === TICK_META_BYTES;
}

export function readTickMetaSeq(meta: Buffer): number {
  return meta.readUInt32BE(SEQ_OFFSET) * TWO_32 + meta.readUInt32BE(SEQ_OFFSET + 4);
}

/** Whether a meta frame carries this epoch (16 bytes), without allocating. */
export function tickMetaEpochEquals(meta: Buffer, epoch: Buffer): boolean {
  return meta.compare(epoch, 0, EPOCH_BYTES, 0, EPOCH_BYTES) === 0;
}

/** A copy of the epoch bytes of a meta frame (a copy, so it does not pin the frame). */
export function tickMetaEpoch(meta: Buffer): Buffer {
  return Buffer.from(meta.subarray(0, EPOCH_BYTES));
}
