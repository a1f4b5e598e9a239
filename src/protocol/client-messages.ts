/**
 * Client → server messages (§6). `decodeClientMessage` never throws: it returns the message as a
 * fresh object built field by field (parsed JSON is never merged anywhere, so `__proto__` keys are
 * inert) or an error code with the request id, if one could be read, to echo.
 */
import type { ErrorCode } from './error-codes.ts';
import { isToken, MODES, type Mode } from './tick.ts';
import { MAX_THROTTLE_MS } from './throttle.ts';

export type RequestId = string | number | boolean | null | undefined;

export interface Rejected { token: unknown; reason: string }

export type ClientMessage =
  | {
      op: 'subscribe'; id: RequestId; tokens: number[]; rejected: Rejected[]; mode: Mode | undefined;
      throttleMs: number | undefined; since: Map<number, number> | undefined; epoch: string | undefined;
    }
  | { op: 'unsubscribe'; id: RequestId; tokens: number[]; rejected: Rejected[] }
  | { op: 'list'; id: RequestId }
  | { op: 'ping'; id: RequestId }
  | { op: 'auth'; id: RequestId; accessToken: string };

export type Decoded =
  | { ok: true; msg: ClientMessage }
  | { ok: false; code: ErrorCode; message: string; id: RequestId };


function isScalar(v: unknown): v is RequestId {
  return v === null || v === undefined || ['string', 'number', 'boolean'].includes(typeof v);
}

function fail(code: ErrorCode, message: string, id: RequestId = undefined): Decoded {
  return { ok: false, code, message, id };
}

/** Splits a tokens array into valid, de-duplicated tokens and the malformed entries. */
function readTokens(raw: unknown[]): { tokens: number[]; rejected: Rejected[] } {
  const seen = new Set<number>();
  const rejected: Rejected[] = [];
  for (const t of raw) {
    if (!isToken(t)) {
      // Echo only JSON-safe scalars back; an object or array is summarised instead.
      rejected.push({ token: isScalar(t) && t !== undefined ? t : String(typeof t), reason: 'not an integer in 1..4294967295' });
    } else seen.add(t);
  }
  return { tokens: [...seen], rejected };
}

export function decodeClientMessage(data: string): Decoded {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return fail('bad_request', 'not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return fail('bad_request', 'expected a JSON object');
  }
  const o = parsed as Record<string, unknown>;
  const id = Object.hasOwn(o, 'id') ? o.id : undefined;
  if (!isScalar(id)) return fail('bad_request', 'id must be a string, number, boolean or null');
  const op = o.op;
  if (typeof op !== 'string') return fail('bad_request', 'op is required', id);

  switch (op) {
    case 'subscribe':
    case 'unsubscribe': {
      if (!Array.isArray(o.tokens)) return fail('bad_request', 'tokens must be an array', id);
      const { tokens, rejected } = readTokens(o.tokens);
      if (op === 'unsubscribe') return { ok: true, msg: { op, id, tokens, rejected } };
      let mode: Mode | undefined;
      if (o.mode !== undefined) {
        if (typeof o.mode !== 'string' || !(MODES as readonly string[]).includes(o.mode)) {
          return fail('bad_request', 'mode must be ltp, quote or full', id);
        }
        mode = o.mode as Mode;
      }
      let throttleMs: number | undefined;
      if (o.throttle_ms !== undefined) {
        const t = o.throttle_ms;
        if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t > MAX_THROTTLE_MS) {
          return fail('bad_request', `throttle_ms must be an integer in 0..${MAX_THROTTLE_MS}`, id);
        }
        throttleMs = t;
      }
      let since: Map<number, number> | undefined;
      if (o.since !== undefined) {
        if (typeof o.since !== 'object' || o.since === null || Array.isArray(o.since)) {
          return fail('bad_request', 'since must be an object of token: seq', id);
        }
        since = new Map();
        for (const [k, v] of Object.entries(o.since)) {
          const token = Number(k);
          if (!isToken(token) || String(token) !== k || typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
            return fail('bad_request', 'since must map tokens to non-negative integer seqs', id);
          }
          since.set(token, v);
        }
      }
      if (o.epoch !== undefined && typeof o.epoch !== 'string') return fail('bad_request', 'epoch must be a string', id);
      return {
        ok: true,
        msg: { op, id, tokens, rejected, mode, throttleMs, since, epoch: o.epoch as string | undefined },
      };
    }
    case 'list':
    case 'ping':
      return { ok: true, msg: { op, id } };
    case 'auth':
      if (typeof o.access_token !== 'string' || o.access_token === '') {
        return fail('bad_request', 'access_token is required', id);
      }
      return { ok: true, msg: { op, id, accessToken: o.access_token } };
    default:
      return fail('unknown_op', 'unknown op', id);
  }
}
