/**
 * `tickgate ctl <verb> [args] [--json] [--endpoint E] [--timeout MS]`: the operator's client for
 * the ingester's control socket (§4). One request, one reply, then exit:
 *
 *   0  the ingester answered ok
 *   1  the ingester answered with an error (printed), or the reply was unreadable
 *   2  usage error (nothing was sent)
 *   3  no reply within the timeout (the ingester is down or the endpoint is wrong)
 *
 * Output is for people by default; `--json` prints the reply exactly as received, for scripts.
 */
import { parseCommandLine } from '../cli/command-line.ts';
import { readControlReply, type ControlCommand, type ControlReplyTo, type ControlRequest } from '../protocol/control.ts';
import { isToken } from '../protocol/tick.ts';
import { controlRequest, NoReplyError } from './request.ts';
import { loadClientCurve, writeKeyPair } from '../zmq/curve.ts';
import fs from 'node:fs';
import path from 'node:path';

export const DEFAULT_CTL_TIMEOUT_MS = 3_000;

export const CTL_USAGE = `usage: tickgate ctl <verb> [args] [--json] [--endpoint E] [--timeout MS]

verbs:
  pause [TOKEN...]             pause those feeds (no tokens: every feed)
  resume [TOKEN...]            resume those feeds (no tokens: every feed)
  status                       paused feeds, known tokens, tick counters, connected workers
  demand                       tokens that have at least one subscriber anywhere
  notify USER MESSAGE...       send a notice to every open socket of USER
  announce TOKEN... MESSAGE... send a notice to every subscriber of those tokens
  disconnect USER [--revoke]   close every socket of USER (close code 1008); --revoke also ends
                               every session of USER, so the client cannot reconnect
  keygen DIR [NAME]            write a CURVE key pair NAME.key / NAME.pub into DIR (for ZMQ_CURVE_DIR);
                               NAME defaults to server, then client; copy a client's .pub into the
                               ingester's DIR to admit it
  tap [--feed E|--ingest E] [TOKEN...]
                               print what a ZeroMQ endpoint publishes, decoded (see ctl tap --help)

options:
  --json         print the ingester's reply as raw JSON
  --endpoint E   control socket (default: CONTROL_BIND)
  --timeout MS   give up when no reply came within MS milliseconds (default ${DEFAULT_CTL_TIMEOUT_MS})

exit status: 0 ok, 1 refused by the ingester, 2 usage error, 3 no reply`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  endpoint: { type: 'string' },
  timeout: { type: 'string' },
} as const;

export interface CtlInvocation {
  request: ControlRequest;
  json: boolean;
  endpoint: string | undefined;
  timeoutMs: number;
}

export type ParsedCtl = { ok: true; value: CtlInvocation } | { ok: false; error: string } | { ok: 'help' };

function readTokens(args: string[]): number[] | string {
  const out: number[] = [];
  for (const a of args) {
    const n = /^\d+$/.test(a) ? Number(a) : NaN;
    if (!isToken(n)) return `not a token (an integer in 1..4294967295): "${a}"`;
    out.push(n);
  }
  return out;
}

/** Turns the command line after `ctl` into a request; nothing here touches the network. */
export function parseCtlArgs(argv: readonly string[]): ParsedCtl {
  const cl = parseCommandLine(argv, OPTIONS);
  if (!cl.ok) return cl;
  const { values, positionals } = cl;
  if (values.help) return { ok: 'help' };
  const endpoint = values.endpoint;
  if (endpoint !== undefined && !/^(tcp|ipc|inproc):\/\/\S+$/.test(endpoint)) {
    return { ok: false, error: '--endpoint needs a ZeroMQ endpoint like tcp://127.0.0.1:5557' };
  }
  let timeoutMs = DEFAULT_CTL_TIMEOUT_MS;
  if (values.timeout !== undefined) {
    const n = /^\d+$/.test(values.timeout) ? Number(values.timeout) : NaN;
    if (!Number.isSafeInteger(n) || n < 1 || n > 600_000) return { ok: false, error: '--timeout needs milliseconds in 1..600000' };
    timeoutMs = n;
  }
  const [verb, ...args] = positionals;
  if (!verb) return { ok: false, error: 'a verb is required' };
  const done = (request: ControlRequest): ParsedCtl => ({ ok: true, value: { request, json: values.json === true, endpoint, timeoutMs } });
  switch (verb) {
    case 'pause':
    case 'resume': {
      const tokens = readTokens(args);
      if (typeof tokens === 'string') return { ok: false, error: tokens };
      return done(tokens.length ? { cmd: verb, tokens } : { cmd: verb });
    }
    case 'status':
    case 'demand':
      if (args.length) return { ok: false, error: `${verb} takes no arguments` };
      return done({ cmd: verb });
    case 'notify': {
      const [user, ...words] = args;
      if (!user || words.length === 0) return { ok: false, error: 'usage: ctl notify USER MESSAGE...' };
      return done({ cmd: 'notify', user, message: words.join(' ') });
    }
    case 'announce': {
      // Leading all-digit arguments are the tokens; the rest is the message.
      let n = 0;
      while (n < args.length && /^\d+$/.test(args[n]!)) n++;
      const tokens = readTokens(args.slice(0, n));
      if (typeof tokens === 'string') return { ok: false, error: tokens };
      if (tokens.length === 0 || n === args.length) return { ok: false, error: 'usage: ctl announce TOKEN... MESSAGE...' };
      return done({ cmd: 'announce', tokens, message: args.slice(n).join(' ') });
    }
    case 'disconnect': {
      const revoke = args.includes('--revoke');
      const rest = args.filter((a) => a !== '--revoke');
      if (rest.length !== 1) return { ok: false, error: 'usage: ctl disconnect USER [--revoke]' };
      return done({ cmd: 'disconnect', user: rest[0]!, ...(revoke ? { revoke: true } : {}) });
    }
    default:
      return { ok: false, error: `unknown verb "${verb}"` };
  }
}

type RequestOf<C extends ControlCommand> = Extract<ControlRequest, { cmd: C }>;

const pausedText = (p: number[] | 'all') => (p === 'all' ? 'all' : p.length ? p.join(' ') : 'none');

const formatters: { [C in ControlCommand]: (request: RequestOf<C>, reply: ControlReplyTo[C]) => string } = {
  pause: (_, reply) => `paused: ${pausedText(reply.paused)}`,
  resume: (_, reply) => `paused: ${pausedText(reply.paused)}`,
  status: (_, reply) => [
    ['paused', pausedText(reply.paused)],
    ['tokens', reply.tokens],
    ['ticks in', reply.ticks_in],
    ['ticks out', reply.ticks_out],
    ['workers', reply.workers],
  ].map(([k, v]) => `${String(k).padEnd(10)} ${String(v)}`).join('\n'),
  demand: (_, reply) => (reply.tokens.length
    ? `${reply.tokens.length} token(s) with subscribers: ${reply.tokens.join(' ')}`
    : 'no token has subscribers'),
  notify: (request) => `notice sent to every socket of ${request.user}`,
  announce: (request) => `notice sent to every subscriber of ${request.tokens.join(' ')}`,
  disconnect: (request) => `closing every socket of ${request.user} (1008)${request.revoke ? ' and revoking its sessions' : ''}`,
};

/** A successful reply as people read it. */
export function formatReply<C extends ControlCommand>(request: RequestOf<C>, reply: ControlReplyTo[C]): string {
  const format = formatters[request.cmd as C] as (request: RequestOf<C>, reply: ControlReplyTo[C]) => string;
  return format(request, reply);
}

export interface CtlOutput {
  out(line: string): void;
  err(line: string): void;
}

const stdio: CtlOutput = {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
};

/** Runs `tickgate ctl …`; returns the exit status. `defaultEndpoint` is CONTROL_BIND. */
export async function runCtl(argv: readonly string[], defaultEndpoint: string, io: CtlOutput = stdio, curveDir?: string): Promise<number> {
  if (argv[0] === 'keygen') return keygen(argv.slice(1), io);
  const parsed = parseCtlArgs(argv);
  if (parsed.ok === 'help') {
    io.out(CTL_USAGE);
    return 0;
  }
  if (!parsed.ok) {
    io.err(`tickgate ctl: ${parsed.error}\n\n${CTL_USAGE}`);
    return 2;
  }
  const { request, json, timeoutMs } = parsed.value;
  const endpoint = parsed.value.endpoint ?? defaultEndpoint;
  let text: string;
  try {
    text = await controlRequest(endpoint, JSON.stringify(request), timeoutMs, curveDir ? loadClientCurve(curveDir) : undefined);
  } catch (err) {
    if (err instanceof NoReplyError) {
      io.err(`tickgate ctl: ${err.message}`);
      return 3;
    }
    io.err(`tickgate ctl: cannot reach ${endpoint}: ${(err as Error).message}`);
    return 3;
  }
  let parsedReply: unknown;
  try {
    parsedReply = JSON.parse(text);
  } catch {
    parsedReply = undefined;
  }
  if (typeof parsedReply !== 'object' || parsedReply === null || Array.isArray(parsedReply)) return unreadable(io, endpoint, text);
  if (json) io.out(text);
  const reply = readControlReply(request.cmd, parsedReply);
  if (reply === undefined) return unreadable(io, endpoint, text);
  if (!reply.ok) {
    io.err(`tickgate ctl: the ingester refused "${request.cmd}": ${reply.error}`);
    return 1;
  }
  if (!json) io.out(formatReply(request, reply));
  return 0;
}

function unreadable(io: CtlOutput, endpoint: string, text: string): number {
  io.err(`tickgate ctl: unreadable reply from ${endpoint}: ${text.slice(0, 200)}`);
  return 1;
}

/** `ctl keygen DIR [NAME]`: a CURVE key pair for ZMQ_CURVE_DIR; nothing touches the network. */
function keygen(args: readonly string[], io: CtlOutput): number {
  const [dir, given, extra] = args;
  if (!dir || extra !== undefined || (given !== undefined && !/^[A-Za-z0-9_.-]+$/.test(given))) {
    io.err('tickgate ctl: usage: ctl keygen DIR [NAME]');
    return 2;
  }
  const name = given ?? (fs.existsSync(path.join(dir, 'server.key')) ? 'client' : 'server');
  try {
    const pub = writeKeyPair(dir, name);
    io.out(`wrote ${path.join(dir, `${name}.key`)} (secret) and ${name}.pub: ${pub}`);
    return 0;
  } catch (err) {
    io.err(`tickgate ctl: ${(err as Error).message}`);
    return 1;
  }
}
