/**
 * The control plane's wire formats, defined once for the ingester, the `ctl` client and the
 * gateways:
 *
 * - control requests and replies (§4) on the ingester's REP socket at CONTROL_BIND;
 * - operator broadcasts: what the ingester sends every gateway worker on the broadcast topic to
 *   carry out `notify`, `announce` and `disconnect` (workers hold the sockets, the ingester does not).
 *
 * `parseControlRequest` never throws: it returns a fresh, validated object or a short reason that
 * goes back to the operator verbatim. Request objects are `.strict()`: a misspelt field such as
 * `"token":[1]` must be refused rather than silently dropped, because a `pause` whose tokens were
 * dropped would pause every feed.
 */
import { z } from 'zod';
import { USERNAME_RE } from './credentials.ts';
import { isToken, MAX_TOKEN, MIN_TOKEN } from './tick.ts';

/** Larger requests are answered with an error without being parsed. */
export const MAX_CONTROL_REQUEST_BYTES = 64 * 1024;
/** Most tokens one request may name. */
export const MAX_CONTROL_TOKENS = 10_000;
/** Longest operator message, in characters. */
export const MAX_NOTICE_CHARS = 2_000;

const tokenList = z
  .array(z.number().int().min(MIN_TOKEN).max(MAX_TOKEN), { invalid_type_error: 'tokens must be an array of integers' })
  .min(1, 'tokens must not be empty (omit it to mean every feed)')
  .max(MAX_CONTROL_TOKENS, `at most ${MAX_CONTROL_TOKENS} tokens per request`)
  // Duplicates are harmless; dropping them keeps replies and status messages tidy.
  .transform((ts) => [...new Set(ts)]);

const username = z.string({ invalid_type_error: 'user must be a string' }).regex(USERNAME_RE, 'user must be a valid username');
const message = z
  .string({ invalid_type_error: 'message must be a string' })
  .refine((m) => m.trim() !== '', 'message must not be empty')
  .refine((m) => m.length <= MAX_NOTICE_CHARS, `message must be at most ${MAX_NOTICE_CHARS} characters`);

const schemas = {
  pause: z.object({ cmd: z.literal('pause'), tokens: tokenList.optional() }).strict(),
  resume: z.object({ cmd: z.literal('resume'), tokens: tokenList.optional() }).strict(),
  status: z.object({ cmd: z.literal('status') }).strict(),
  demand: z.object({ cmd: z.literal('demand') }).strict(),
  notify: z.object({ cmd: z.literal('notify'), user: username, message }).strict(),
  announce: z.object({ cmd: z.literal('announce'), tokens: tokenList, message }).strict(),
  disconnect: z.object({ cmd: z.literal('disconnect'), user: username, revoke: z.boolean().optional() }).strict(),
};

export type ControlCommand = keyof typeof schemas;
export const CONTROL_COMMANDS = Object.keys(schemas) as ControlCommand[];

export type ControlRequest = { [K in ControlCommand]: z.output<(typeof schemas)[K]> }[ControlCommand];

/** `"all"` while every feed is paused, else the paused tokens in ascending order. */
export type PausedState = number[] | 'all';

const count = z.number().int().min(0);
const pausedState = z.union([z.literal('all'), z.array(z.number().int())]);
const done = z.object({ ok: z.literal(true) });
// Not `.strict()`: a newer ingester may add fields, which an older `ctl` ignores.
const replySchemas = {
  pause: z.object({ ok: z.literal(true), paused: pausedState }),
  resume: z.object({ ok: z.literal(true), paused: pausedState }),
  status: z.object({ ok: z.literal(true), paused: pausedState, tokens: count, ticks_in: count, ticks_out: count, workers: count }),
  demand: z.object({ ok: z.literal(true), tokens: z.array(z.number().int()) }),
  notify: done,
  announce: done,
  disconnect: done,
} satisfies Record<ControlCommand, z.ZodTypeAny>;
const refusalSchema = z.object({ ok: z.literal(false), error: z.string() });

/** The successful reply to each command. */
export type ControlReplyTo = { [K in ControlCommand]: z.output<(typeof replySchemas)[K]> };
export type ControlRefusal = z.output<typeof refusalSchema>;
export type ControlReply = ControlReplyTo[ControlCommand] | ControlRefusal;

/**
 * Reads the ingester's reply to a `cmd` request (parsed JSON): the reply, or undefined when it is
 * neither that command's success reply nor a refusal with a reason.
 */
export function readControlReply<C extends ControlCommand>(cmd: C, value: unknown): ControlReplyTo[C] | ControlRefusal | undefined {
  const refusal = refusalSchema.safeParse(value);
  if (refusal.success) return refusal.data;
  const r = replySchemas[cmd].safeParse(value);
  return r.success ? (r.data as ControlReplyTo[C]) : undefined;
}

export type ParsedControlRequest = { ok: true; request: ControlRequest } | { ok: false; error: string };

function fail(error: string): ParsedControlRequest {
  return { ok: false, error };
}

/** `frames` is one ZeroMQ message as the REP socket hands it up (envelope already removed). */
export function parseControlRequest(frames: readonly Buffer[]): ParsedControlRequest {
  if (frames.length !== 1) return fail('expected exactly one frame holding a JSON object');
  const frame = frames[0]!;
  if (frame.length > MAX_CONTROL_REQUEST_BYTES) return fail(`request too large (at most ${MAX_CONTROL_REQUEST_BYTES} bytes)`);
  let parsed: unknown;
  try {
    // fatal: invalid UTF-8 is a malformed request, not something to paper over with U+FFFD.
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(frame));
  } catch {
    return fail('not valid UTF-8 JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return fail('expected a JSON object');
  const cmd = (parsed as Record<string, unknown>).cmd;
  if (typeof cmd !== 'string') return fail('cmd is required');
  if (!Object.hasOwn(schemas, cmd)) return fail(`unknown cmd; expected one of ${CONTROL_COMMANDS.join(', ')}`);
  const r = schemas[cmd as ControlCommand].safeParse(parsed);
  if (!r.success) return fail(describeIssues(r.error));
  return { ok: true, request: r.data };
}

/** Zod issues as one short line: `tokens.2: Number must be less than or equal to 4294967295`. */
function describeIssues(err: z.ZodError): string {
  const text = err.issues
    .slice(0, 3)
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
  // Issue messages can quote unrecognised keys, which come from the request: keep replies bounded.
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

/**
 * Operator broadcasts, ingester → every gateway worker, on the broadcast topic next to the
 * heartbeat (`{"type":"hb"}`).
 */
export type OperatorBroadcast =
  | { type: 'notify'; user: string; message: string }
  | { type: 'announce'; tokens: number[]; message: string }
  | { type: 'disconnect'; user: string };

/**
 * Reads a broadcast a worker received. It comes from our own ingester, but a worker must not
 * crash on a message from a newer or older ingester, so it is checked field by field.
 */
export function readOperatorBroadcast(msg: { type: string; [k: string]: unknown }): OperatorBroadcast | undefined {
  switch (msg.type) {
    case 'notify':
      return typeof msg.user === 'string' && typeof msg.message === 'string'
        ? { type: 'notify', user: msg.user, message: msg.message }
        : undefined;
    case 'announce':
      return Array.isArray(msg.tokens) && msg.tokens.every(isToken) && typeof msg.message === 'string'
        ? { type: 'announce', tokens: [...(msg.tokens as number[])], message: msg.message }
        : undefined;
    case 'disconnect':
      return typeof msg.user === 'string' ? { type: 'disconnect', user: msg.user } : undefined;
    default:
      return undefined;
  }
}
