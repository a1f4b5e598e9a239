/**
 * Reading a tick message without parsing it, so the bench's clients stay cheap per message. Both
 * servers the bench measures (tickgate's encodeTick and the bare baseline) write ticks as
 * `{"type":"tick","token":T,"seq":S,"ts":…` in that key order: a tick is recognised by one byte,
 * its token and `ts` are read by skipping digits, with a search as the fallback.
 */

/** `{"type":"` is 9 bytes; of all server message types only `tick` starts with `t`. */
const TYPE_AT = 9;
const CHAR_t = 0x74;
/** `{"type":"tick","token":` — the fixed prefix, so the token's digits start here. */
export const TOKEN_AT = 23;
const SEQ_KEY_BYTES = ',"seq":'.length;
const TS_KEY_BYTES = ',"ts":'.length;
const TS_KEY = Buffer.from('"ts":');
const COLON = 0x3a;
/** A snapshot tick ends with `"snapshot":true}`; a live tick ends with a digit, `]` or `}`. */
const CHAR_e = 0x65;
const DIGIT_0 = 0x30;

export const isTick = (buf: Buffer): boolean => buf[TYPE_AT] === CHAR_t;
export const isSnapshot = (buf: Buffer): boolean => buf[buf.length - 2] === CHAR_e;

function skipDigits(buf: Buffer, at: number): number {
  let i = at;
  while (i < buf.length && buf[i]! >= DIGIT_0 && buf[i]! <= DIGIT_0 + 9) i++;
  return i;
}

/** Where the digits of a tick's `ts` start: by skipping over token and seq, else by a search. */
export function tsDigitsAt(buf: Buffer): number {
  const at = skipDigits(buf, skipDigits(buf, TOKEN_AT) + SEQ_KEY_BYTES) + TS_KEY_BYTES;
  if (buf[at - 1] === COLON && buf[at - 2] === 0x22 /* " */ && buf[at - 3] === 0x73 /* s */) return at;
  const found = buf.indexOf(TS_KEY, TOKEN_AT);
  return found < 0 ? -1 : found + TS_KEY.length;
}

export function readUint(buf: Buffer, at: number): number {
  let v = 0;
  for (let i = at; i < buf.length; i++) {
    const d = buf[i]! - DIGIT_0;
    if (d < 0 || d > 9) break;
    v = v * 10 + d;
  }
  return v;
}
