/**
 * `tickgate client [--url U] <cmd>` (§1): register, log in and out, and watch live ticks, built on
 * the SDK. Sessions are kept in a 0600 file per OS user (session-file.ts) and refreshed as they
 * are used. Every failure a person can cause or fix is one line on stderr and a non-zero exit:
 *
 *   0  done (watch: stopped with Ctrl-C)
 *   1  the server refused (bad credentials, session ended, …) or cannot be reached
 *   2  usage error
 */
import { parseCommandLine } from '../cli/command-line.ts';
import { TickgateClient, TickgateError, type Mode } from '../client/node.ts';
import { loadSession, saveSession, sessionFilePath, withFileLock } from './session-file.ts';
import { renderTable, rowCells } from './table.ts';

export const CLIENT_USAGE = `usage: tickgate client [--url U] <command>

commands:
  register --user U [--password P]   create an account
  login --user U [--password P]      log in; the session is saved (0600) and refreshed as it is used
  logout                             end the saved session
  watch TOKEN... [--mode ltp|quote|full] [--throttle MS] [--json]
                                     live table of those tokens (--json: one tick per line)

options:
  --url U        the gateway (default: TICKGATE_URL or http://127.0.0.1:8080)
  --password P   or the TICKGATE_PASSWORD environment variable
Sessions are kept in ${'$'}XDG_CONFIG_HOME/tickgate/session.json (TICKGATE_CONFIG overrides). NO_COLOR turns colours off.`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  url: { type: 'string' },
  user: { type: 'string' },
  password: { type: 'string' },
  mode: { type: 'string' },
  throttle: { type: 'string' },
  json: { type: 'boolean' },
} as const;

export interface ClientIo {
  out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  err: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

const MODES = ['ltp', 'quote', 'full'];

/** A failure as one line a person can act on. */
export function describeError(err: unknown, url: string): string {
  if (err instanceof TickgateError) {
    switch (err.code) {
      case 'unreachable': return `server down: cannot reach ${url}`;
      case 'invalid_credentials': return 'bad credentials: wrong username or password';
      case 'username_taken': return 'that username is taken';
      case 'session_ended':
      case 'invalid_refresh_token':
      case 'refresh_superseded':
      case 'unauthorized': return 'session revoked or expired: log in again (tickgate client login --user U)';
      case 'not_logged_in': return 'not logged in: run tickgate client login --user U';
      case 'too_many_requests': return `too many attempts: ${err.message}`;
      default: return `${err.code}: ${err.message}`;
    }
  }
  return (err as Error).message;
}

export async function runClientCli(argv: readonly string[], io: ClientIo = { out: process.stdout, err: process.stderr, env: process.env }): Promise<number> {
  const say = (l: string) => io.err.write(`tickgate client: ${l}\n`);
  const cl = parseCommandLine(argv, OPTIONS);
  if (!cl.ok) {
    say(cl.error);
    return 2;
  }
  const { values, positionals } = cl;
  if (values.help) {
    io.out.write(`${CLIENT_USAGE}\n`);
    return 0;
  }
  const url = (values.url ?? io.env.TICKGATE_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  if (!/^https?:\/\/\S+$/.test(url)) {
    say('--url needs an http(s) URL like http://127.0.0.1:8080');
    return 2;
  }
  const file = sessionFilePath(io.env);
  const [cmd, ...args] = positionals;
  try {
    switch (cmd) {
      case 'register':
      case 'login': {
        const user = values.user;
        const password = values.password ?? io.env.TICKGATE_PASSWORD;
        if (!user || !password) {
          say(`${cmd} needs --user U and a password (--password P or TICKGATE_PASSWORD)`);
          return 2;
        }
        const c = new TickgateClient({ url });
        if (cmd === 'register') {
          await c.register(user, password);
          io.out.write(`registered ${user}\n`);
        } else {
          const session = await c.login(user, password);
          saveSession(file, url, { username: user, session });
          io.out.write(`logged in as ${user} (session saved in ${file})\n`);
        }
        return 0;
      }
      case 'logout': {
        const saved = loadSession(file, url);
        if (!saved) {
          say('not logged in');
          return 1;
        }
        const c = new TickgateClient({ url, session: saved.session });
        try {
          await c.logout();
        } finally {
          saveSession(file, url, undefined);
        }
        io.out.write(`logged out ${saved.username}\n`);
        return 0;
      }
      case 'watch':
        return await watch(url, file, args, values, io, say);
      case undefined:
        say(`a command is required\n\n${CLIENT_USAGE}`);
        return 2;
      default:
        say(`unknown command "${cmd}"\n\n${CLIENT_USAGE}`);
        return 2;
    }
  } catch (err) {
    say(describeError(err, url));
    return 1;
  }
}

async function watch(
  url: string, file: string, args: string[],
  values: { mode?: string; throttle?: string; json?: true },
  io: ClientIo, say: (l: string) => void,
): Promise<number> {
  const tokens: number[] = [];
  for (const a of args) {
    const n = /^\d+$/.test(a) ? Number(a) : NaN;
    if (!Number.isSafeInteger(n) || n < 1 || n > 4_294_967_295) {
      say(`unknown token "${a}": tokens are integers in 1..4294967295`);
      return 2;
    }
    tokens.push(n);
  }
  if (tokens.length === 0) {
    say('watch needs at least one token');
    return 2;
  }
  const mode = (values.mode ?? 'quote') as Mode;
  if (!MODES.includes(mode)) {
    say('--mode is one of ltp, quote, full');
    return 2;
  }
  const throttleMs = values.throttle === undefined ? 0 : /^\d+$/.test(values.throttle) ? Number(values.throttle) : NaN;
  if (!Number.isInteger(throttleMs) || throttleMs > 60_000) {
    say('--throttle needs milliseconds in 0..60000');
    return 2;
  }
  const saved = loadSession(file, url);
  if (!saved) {
    say('not logged in: run tickgate client login --user U');
    return 1;
  }
  const client = new TickgateClient({ url, session: saved.session, sharedSession: () => loadSession(file, url)?.session, refreshLock: (critical) => withFileLock(file, critical) });
  client.on('session', (s) => saveSession(file, url, s ? { username: saved.username, session: s } : undefined));

  const known = new Set((await client.instruments()).map((i) => i.token));
  for (const t of tokens) if (!known.has(t)) say(`token ${t} is unknown to the feed so far: waiting for its first tick`);

  const json = values.json === true;
  const tty = io.out.isTTY === true && !json;
  const style = { color: tty && !io.env.NO_COLOR };
  if (json) client.on('tick', (t) => io.out.write(`${JSON.stringify(t)}\n`));
  else if (!tty) client.on('tick', (t) => io.out.write(`${rowCells(client.view.get(t.token)!).join('\t')}\n`));
  // Connection events are for people: stderr, so stdout stays ticks only.
  client.on('reconnecting', (e) => say(`connection lost (${e.code}); reconnecting in ${e.delayMs} ms`));
  client.on('gap', (g) => say(`gap: token ${g.token} ticks ${g.from}..${g.to} could not be recovered`));
  client.on('notice', (n) => say(`notice: ${n.message}`));
  client.on('error', (e) => say(`${e.code}: ${e.message}`));

  let timer: ReturnType<typeof setInterval> | undefined;
  const draw = () => {
    const state = client.state + (client.conflating ? ' (conflating)' : '');
    const header = `tickgate ${url} · ${saved.username} · ${state} · mode ${mode}${throttleMs ? ` · throttle ${throttleMs} ms` : ''} · Ctrl-C quits`;
    io.out.write(`\x1b[H\x1b[2J${renderTable(client.view.all(), header, style).join('\n')}\n`);
  };

  const done = new Promise<number>((resolve) => {
    client.on('closed', (e) => {
      if (timer) clearInterval(timer);
      if (e.code === 4003 || e.code === 4001) {
        saveSession(file, url, undefined);
        say('session revoked: log in again (tickgate client login --user U)');
        resolve(1);
      } else resolve(e.code === 1000 ? 0 : 1);
    });
    const stop = () => client.close();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await client.connect();
  await client.subscribe(tokens, { mode, throttleMs });
  if (tty) {
    io.out.write('\x1b[?25l'); // hide the cursor while the table redraws
    timer = setInterval(draw, 250);
    draw();
  }
  const code = await done;
  if (tty) io.out.write('\x1b[?25h');
  return code;
}
