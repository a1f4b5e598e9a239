/**
 * The tick meta frame: the binary second frame of every tick message on the ingest XPUB
 * (`[topic, meta, ltpJson, quoteJson, fullJson]`, see topics.ts). It lets a gateway check each
 * token's seq continuity and the epoch without parsing JSON.
 *
 * Layout, fixed 24 bytes:
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
  epoch.copy(b, 0, 0, EPOCH_BYTES);
  b.writeUInt32BE(Math.floor(seq / TWO_32), SEQ_OFFSET);
  b.writeUInt32BE(seq >>> 0, SEQ_OFFSET + 4);
  return b;
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
