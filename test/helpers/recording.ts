/**
 * Reading a client's recording (its inbox, in arrival order) against the delivery promises of §6:
 * under one epoch a (token, seq) names one value; a token's seq never jumps without the missing
 * ticks or a `gap` naming exactly the missing range.
 */
import type { Msg } from './ws-client.ts';

/** Each tick with the epoch the client believed in when it arrived (from the ack, then `epoch` messages). */
export function ticksWithEpoch(inbox: readonly Msg[]): { epoch: string | undefined; tick: Msg }[] {
  let epoch: string | undefined;
  const out: { epoch: string | undefined; tick: Msg }[] = [];
  for (const m of inbox) {
    if ((m.type === 'subscribed' || m.type === 'epoch') && typeof m.epoch === 'string' && m.epoch) epoch = m.epoch;
    else if (m.type === 'tick') out.push({ epoch, tick: m });
  }
  return out;
}

/** Every (epoch, token, seq) that arrived with two different values (expected: none). */
export function seqReuse(inbox: readonly Msg[]): string[] {
  const seen = new Map<string, number>();
  const bad: string[] = [];
  for (const { epoch, tick } of ticksWithEpoch(inbox)) {
    const key = `${epoch}/${tick.token}/${tick.seq}`;
    const prev = seen.get(key);
    if (prev === undefined) seen.set(key, tick.ltp);
    else if (prev !== tick.ltp) bad.push(`${key}: ${prev} then ${tick.ltp}`);
  }
  return bad;
}

export interface Continuity {
  /** Unexplained jumps, repeats and regressions, described (expected: none). */
  violations: string[];
  /** `gap` messages received, in order. */
  gaps: { from: number; to: number }[];
  /** Seq of the last tick received (or the end of the last gap). */
  last: number | undefined;
  /** Seqs of the non-snapshot ticks, in arrival order. */
  seqs: number[];
}

/**
 * Walks one token's messages: each tick must be last+1; a `gap` must start at last+1 (and moves
 * last to its end); a snapshot may repeat the last seq (a relink or a resume re-sends the newest
 * value). An `epoch` message voids the numbering: the next tick starts afresh.
 */
export function continuity(inbox: readonly Msg[], token: number): Continuity {
  const violations: string[] = [];
  const gaps: { from: number; to: number }[] = [];
  const seqs: number[] = [];
  let last: number | undefined;
  inbox.forEach((m, i) => {
    if (m.type === 'epoch') {
      last = undefined;
      return;
    }
    if (m.type === 'gap' && m.token === token) {
      if (last !== undefined && m.from !== last + 1) violations.push(`#${i} gap ${m.from}..${m.to} after seq ${last}`);
      if (m.to < m.from) violations.push(`#${i} empty gap ${m.from}..${m.to}`);
      gaps.push({ from: m.from, to: m.to });
      last = m.to;
      return;
    }
    if (m.type !== 'tick' || m.token !== token) return;
    if (!m.snapshot) seqs.push(m.seq);
    if (last === undefined || m.seq === last + 1) {
      last = m.seq;
      return;
    }
    if (m.snapshot && m.seq === last) return;
    violations.push(`#${i} ${m.snapshot ? 'snapshot ' : ''}seq ${m.seq} after ${last}`);
    last = m.seq;
  });
  return { violations, gaps, last, seqs };
}
