/**
 * The one source of truth for configuration: every setting's environment name, default, parser and
 * one-line doc. `load()` validates against it, the README table is generated from it (a test keeps
 * them equal), and nothing else in the code reads `process.env` for settings.
 */
import os from 'node:os';
import { parseProxyEntry } from '../src/gateway/client-ip.ts';

export type Parser<T> = (raw: string) => { ok: true; value: T } | { ok: false; problem: string };

export interface Setting<T> {
  env: string;
  /** Default as written in docs and parsed like any other value; `undefined` means unset. */
  default: string | undefined;
  /** How the default reads in the docs when it is not a literal value. */
  defaultDoc?: string;
  doc: string;
  parse: Parser<T>;
}

const int = (min: number, max: number): Parser<number> => (raw) => {
  if (!/^-?\d+$/.test(raw.trim())) return { ok: false, problem: `expected an integer, got "${raw}"` };
  const n = Number(raw.trim());
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    return { ok: false, problem: `expected an integer in ${min}..${max}, got ${raw}` };
  }
  return { ok: true, value: n };
};

const str: Parser<string> = (raw) => ({ ok: true, value: raw });

const nonEmpty: Parser<string> = (raw) =>
  raw.trim() === '' ? { ok: false, problem: 'must not be empty' } : { ok: true, value: raw.trim() };

const oneOf = <T extends string>(...values: T[]): Parser<T> => (raw) =>
  (values as string[]).includes(raw.trim())
    ? { ok: true, value: raw.trim() as T }
    : { ok: false, problem: `expected one of ${values.join(', ')}, got "${raw}"` };

const zmqEndpoint: Parser<string> = (raw) =>
  /^(tcp|ipc|inproc):\/\/\S+$/.test(raw.trim())
    ? { ok: true, value: raw.trim() }
    : { ok: false, problem: `expected a ZeroMQ endpoint like tcp://127.0.0.1:5555 or ipc:///tmp/x, got "${raw}"` };

const zmqEndpoints: Parser<readonly string[]> = (raw) => {
  const parts = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) return { ok: false, problem: 'expected at least one ZeroMQ endpoint' };
  for (const p of parts) {
    const r = zmqEndpoint(p);
    if (!r.ok) return r;
  }
  return { ok: true, value: Object.freeze(parts) };
};


/** Origins as a browser sends them: a scheme (http/https) and a host, nothing else; `*` is refused. */
const origins: Parser<readonly string[]> = (raw) => {
  const parts = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const bad: string[] = [];
  for (const p of parts) {
    let u: URL | undefined;
    try {
      u = new URL(p);
    } catch {
      u = undefined;
    }
    if (!u || p.includes('*') || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.origin !== p.replace(/\/$/, '').toLowerCase()) bad.push(`"${p}"`);
  }
  if (bad.length > 0) {
    return { ok: false, problem: `each entry must be an origin like https://app.example.com (scheme and host, optional port, no path, no *); bad: ${bad.join(', ')}` };
  }
  return { ok: true, value: Object.freeze(parts.map((p) => new URL(p).origin)) };
};

/** Comma list of IP addresses or CIDRs (`10.0.0.1`, `10.0.0.0/8`, `fd00::/8`). */
const proxies: Parser<readonly string[]> = (raw) => {
  const parts = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const p of parts) {
    const r = parseProxyEntry(p);
    if (!r.ok) return { ok: false, problem: `expected IP addresses or CIDRs: ${r.problem}` };
  }
  return { ok: true, value: Object.freeze(parts) };
};

const onOff: Parser<boolean> = (raw) => {
  const v = raw.trim().toLowerCase();
  if (['on', 'true', '1', 'yes'].includes(v)) return { ok: true, value: true };
  if (['off', 'false', '0', 'no'].includes(v)) return { ok: true, value: false };
  return { ok: false, problem: `expected on or off, got "${raw}"` };
};

const redisUrl: Parser<string> = (raw) =>
  /^(rediss?|redis\+unix|unix):\/\/\S+$/.test(raw.trim()) || raw.trim().startsWith('/')
    ? { ok: true, value: raw.trim() }
    : { ok: false, problem: `expected redis://host:port[/db] or a unix socket path, got "${raw}"` };

const jwtSecret: Parser<string> = (raw) =>
  Buffer.byteLength(raw, 'utf8') >= 32
    ? { ok: true, value: raw }
    : { ok: false, problem: 'must be at least 32 bytes of UTF-8' };

/** `USER[,IP]`: failed logins per minute per username and per client IP. */
const loginLimits: Parser<{ perUser: number; perIp: number }> = (raw) => {
  const [u, ip, extra] = raw.split(',').map((s) => s.trim());
  const pu = int(1, 1_000_000)(u ?? '');
  const pi = int(1, 1_000_000)(ip ?? '100');
  if (!pu.ok || !pi.ok || extra !== undefined) {
    return { ok: false, problem: `expected "PER_USER,PER_IP" positive integers like "10,100", got "${raw}"` };
  }
  return { ok: true, value: { perUser: pu.value, perIp: pi.value } };
};

const logLevel = oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent');

/** Declared with `satisfies` so each key keeps its own parsed type. */
export const schema = {
  host: { env: 'HOST', default: '127.0.0.1', doc: 'HTTP + WebSocket listen address of the gateway', parse: nonEmpty },
  port: { env: 'PORT', default: '8080', doc: 'HTTP + WebSocket listen port (0 picks a free port)', parse: int(0, 65_535) },
  workers: {
    env: 'WORKERS', default: String(os.availableParallelism()), defaultDoc: 'number of CPUs',
    doc: 'gateway worker processes sharing the port (`tickgate start`)', parse: int(1, 256),
  },
  redisUrl: {
    env: 'REDIS_URL', default: undefined, defaultDoc: 'unset (embedded)',
    doc: 'Redis for users, sessions, pause state and last values; unset: `tickgate start` runs its own', parse: redisUrl,
  },
  jwtSecret: {
    env: 'JWT_SECRET', default: undefined, defaultDoc: 'generated into `.data/jwt_secret`',
    doc: 'HS256 key, the UTF-8 bytes of the string (at least 32 bytes); required when `NODE_ENV=production`', parse: jwtSecret,
  },
  nodeEnv: { env: 'NODE_ENV', default: 'development', doc: '`production` makes `JWT_SECRET` mandatory', parse: str },
  feedSimulator: {
    env: 'FEED_SIMULATOR', default: 'on', doc: '`tickgate start` runs the random market-data simulator (on/off)', parse: onOff,
  },
  feedBind: { env: 'FEED_BIND', default: 'tcp://127.0.0.1:5555', doc: "simulator's ZeroMQ PUB bind", parse: zmqEndpoint },
  feedEndpoints: {
    env: 'FEED_ENDPOINTS', default: 'tcp://127.0.0.1:5555',
    doc: 'comma list of ZeroMQ PUB endpoints the ingester connects to', parse: zmqEndpoints,
  },
  ingestBind: {
    env: 'INGEST_BIND', default: 'tcp://127.0.0.1:5556',
    doc: "ingester's XPUB that gateway workers connect to", parse: zmqEndpoint,
  },
  controlBind: {
    env: 'CONTROL_BIND', default: 'tcp://127.0.0.1:5557', doc: "ingester's ZeroMQ REP control socket", parse: zmqEndpoint,
  },
  simTokens: { env: 'SIM_TOKENS', default: '50', doc: 'simulator: number of tokens', parse: int(1, 100_000) },
  simRate: { env: 'SIM_RATE', default: '500', doc: 'simulator: total ticks per second', parse: int(1, 10_000_000) },
  heartbeatMs: { env: 'HEARTBEAT_MS', default: '20000', doc: 'server WebSocket ping interval', parse: int(50, 3_600_000) },
  pongTimeoutMs: {
    env: 'PONG_TIMEOUT_MS', default: '10000',
    doc: 'a socket silent for `HEARTBEAT_MS` + this is closed with 4000', parse: int(10, 3_600_000),
  },
  staleMs: { env: 'STALE_MS', default: '5000', doc: 'a token with no tick for this long is reported `stale`', parse: int(10, 86_400_000) },
  tokenForgetS: {
    env: 'TOKEN_FORGET_S', default: '604800',
    doc: 'a token with no tick for this long (seconds; default 7 days) is forgotten: its books, newest value, history and stale flag are dropped, unless it is paused by name or some gateway still forwards it',
    parse: int(1, 315_360_000),
  },
  allowedOrigins: {
    env: 'ALLOWED_ORIGINS', default: undefined, defaultDoc: 'unset: any origin matching the Host',
    doc: 'comma list of origins (`https://host[:port]`) allowed to open sockets; requests without `Origin` are not refused for that', parse: origins,
  },
  accessTtlS: { env: 'ACCESS_TTL_S', default: '900', doc: 'access-token lifetime in seconds', parse: int(2, 86_400) },
  refreshTtlS: { env: 'REFRESH_TTL_S', default: '2592000', doc: 'refresh-token (session) lifetime in seconds', parse: int(60, 31_536_000) },
  sessionMaxAgeS: {
    env: 'SESSION_MAX_AGE_S', default: '2592000',
    doc: 'absolute session lifetime in seconds: refreshing never extends a session past it', parse: int(60, 315_360_000),
  },
  refreshGraceMs: {
    env: 'REFRESH_GRACE_MS', default: '2000',
    doc: 'a refresh token rotated less than this long ago gets `401 refresh_superseded` without revoking the session (two tabs racing); later reuse revokes', parse: int(0, 60_000),
  },
  reauthLeadMs: {
    env: 'REAUTH_LEAD_MS', default: '30000', doc: 'how long before access-token expiry a socket gets `reauth`', parse: int(0, 86_400_000),
  },
  maxTokensPerSocket: {
    env: 'MAX_TOKENS_PER_SOCKET', default: '3000', doc: 'most tokens one socket may subscribe', parse: int(1, 1_000_000),
  },
  maxSocketsPerUser: {
    env: 'MAX_SOCKETS_PER_USER', default: '20', doc: 'most open sockets per user (429 on the upgrade beyond)', parse: int(1, 100_000),
  },
  msgRate: { env: 'MSG_RATE', default: '20', doc: 'client messages per second per socket, sustained', parse: int(1, 100_000) },
  msgBurst: { env: 'MSG_BURST', default: '40', doc: 'client messages per socket, burst', parse: int(1, 100_000) },
  loginLimitPerMin: {
    env: 'LOGIN_LIMIT_PER_MIN', default: '10,100',
    doc: 'failed logins per minute before 429: `PER_USERNAME_AND_IP,PER_IP`; failures from other IPs only slow a username (at most 2 s), never lock it', parse: loginLimits,
  },
  registerLimitPerMin: {
    env: 'REGISTER_LIMIT_PER_MIN', default: '10', doc: 'registrations per minute per client IP (429 beyond)', parse: int(1, 1_000_000),
  },
  trustProxy: {
    env: 'TRUST_PROXY', default: undefined, defaultDoc: 'unset: the TCP peer is the client',
    doc: 'comma list of proxy addresses/CIDRs whose `X-Forwarded-For` names the client IP (used by every per-IP limit)', parse: proxies,
  },
  connRatePerIp: {
    env: 'CONN_RATE_PER_IP', default: '1000', doc: 'WebSocket upgrade attempts per IP per 10 s before 429', parse: int(1, 10_000_000),
  },
  maxConnsPerIp: {
    env: 'MAX_CONNS_PER_IP', default: '1000', doc: 'open sockets per client IP across all workers, checked before any auth work (429 beyond)', parse: int(1, 10_000_000),
  },
  maxConns: {
    env: 'MAX_CONNS', default: '50000', doc: 'open sockets per gateway worker, checked before any auth work (503 beyond)', parse: int(1, 10_000_000),
  },
  gatewayHeap: {
    env: 'GATEWAY_HEAP', default: 'throughput',
    doc: "`compact`: about half the memory per idle socket for about 10 % more CPU per delivered message (V8 heap growth capped at 10 %; launchers add a 4 MiB semi-space); `throughput`: V8's defaults",
    parse: oneOf('throughput', 'compact'),
  },
  bodyLimitBytes: { env: 'BODY_LIMIT_BYTES', default: '16384', doc: 'largest HTTP request body (413 beyond)', parse: int(64, 16_777_216) },
  drainMs: { env: 'DRAIN_MS', default: '10000', doc: 'graceful drain window on SIGTERM/SIGINT', parse: int(0, 600_000) },
  slowCloseMs: {
    env: 'SLOW_CLOSE_MS', default: '10000', doc: 'a socket still behind this long after it was switched to latest-value delivery (conflating) is closed 4009', parse: int(100, 600_000),
  },
  historySize: { env: 'HISTORY_SIZE', default: '1000', doc: 'ticks kept per token for recovery', parse: int(0, 1_000_000) },
  ingestHwm: {
    env: 'INGEST_HWM', default: '100000',
    doc: "ZeroMQ high-water mark of the ingest link, at both ends (the ingester's XPUB send queue per gateway, a gateway worker's SUB receive queue); ticks dropped beyond it are recovered from history or reported as `gap`",
    parse: int(1, 10_000_000),
  },
  zmqCurveDir: {
    env: 'ZMQ_CURVE_DIR', default: undefined, defaultDoc: 'unset (off)',
    doc: 'directory with the CURVE keys (`tickgate ctl keygen DIR`): the ingester\'s pair, this host\'s client pair and the client public keys allowed; when set, the control REP and ingest XPUB admit only those clients. With `NODE_ENV=production` a non-loopback control or ingest bind without it refuses to start', parse: nonEmpty,
  },
  dataDir: {
    env: 'DATA_DIR', default: '.data', doc: 'where `tickgate start` keeps the embedded Redis data and the generated JWT key (relative to the project)', parse: nonEmpty,
  },
  logLevel: { env: 'LOG_LEVEL', default: 'info', doc: 'pino log level', parse: logLevel },
} satisfies Record<string, Setting<unknown>>;

type Schema = typeof schema;
type Parsed<S> = S extends Setting<infer T> ? T : never;
type Optional<K extends keyof Schema> = Schema[K]['default'] extends undefined ? undefined : never;

export type Config = {
  readonly [K in keyof Schema]: Parsed<Schema[K]> | Optional<K>;
};
