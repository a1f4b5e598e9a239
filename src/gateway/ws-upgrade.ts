/**
 * The `GET /ws` upgrade (§6): the checks that decide whether a socket may exist at all, in order
 * of cost — Origin, the per-IP attempt rate and IP lease, the access token, its session and the
 * user's socket lease (two Redis round trips, see upgrade-gates.ts) — and the corked upgrade that works around a uWS 20.30 bug. A refused upgrade gets an HTTP
 * status and a coded JSON body; no socket is created.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../../config/index.ts';
import { checkAccess } from '../auth/authenticate.ts';
import type { AccessTokens } from '../auth/tokens.ts';
import { ErrorCodes, type ErrorCode } from '../protocol/error-codes.ts';
import { bearerToken, statusLine } from './http.ts';
import { clientIp, trustedProxiesOf } from './client-ip.ts';
import { originAllowed } from './limits.ts';
import type { CorkCarrier } from './cork-carrier.ts';
import type { SessionSockets } from './session-sockets.ts';
import type { SocketData, SocketRegistry } from './socket-model.ts';
import type { HttpRequest, HttpResponse, us_socket_context_t } from './uws.ts';
import { countHttpError } from './event-counts.ts';
import { passIpGate, passSessionGate } from './upgrade-gates.ts';
import { UpgradeQueue } from './upgrade-queue.ts';

/** Upgrades doing auth work at once per worker (upgrade-queue.ts); enough to keep Redis's pipeline full. */
const UPGRADE_CONCURRENCY = 128;

export interface UpgradeDeps {
  config: Config;
  redis: Redis;
  tokens: AccessTokens;
  leases: SessionSockets;
  registry: SocketRegistry;
  log: Logger;
  /** The worker's own socket whose cork every upgrade runs in (cork-carrier.ts). */
  carrier: CorkCarrier;
}

/** Everything the upgrade needs from `req`, copied before the first await (uWS frees `req`). */
interface UpgradeRequest {
  key: string;
  protocol: string;
  extensions: string;
  authorization: string;
  queryToken: string;
  origin: string;
  host: string;
  ip: string;
}

/** The uWS `upgrade` handler for `/ws`. */
export function upgradeHandler(deps: UpgradeDeps) {
  const { config, redis, tokens, leases, registry, log, carrier } = deps;

  const queue = new UpgradeQueue(UPGRADE_CONCURRENCY);

  return (res: HttpResponse, req: HttpRequest, context: us_socket_context_t): void => {
    const h: UpgradeRequest = {
      key: req.getHeader('sec-websocket-key'),
      protocol: req.getHeader('sec-websocket-protocol'),
      extensions: req.getHeader('sec-websocket-extensions'),
      authorization: req.getHeader('authorization'),
      queryToken: req.getQuery('access_token') ?? '',
      origin: req.getHeader('origin'),
      host: req.getHeader('host'),
      ip: clientIp(Buffer.from(res.getRemoteAddressAsText()).toString(), req.getHeader('x-forwarded-for'), trustedProxiesOf(config)),
    };
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    // MAX_CONNS: this worker's open sockets plus upgrades in progress, before any Redis or token
    // work, so a flood of upgrades cannot make the worker do unbounded auth work either.
    if (registry.size + queue.size >= config.maxConns) return refuse(res, 'server_full', { 'retry-after': '5' });
    queue.enqueue(() => upgrade(res, h, context).catch((err: unknown) => {
      if (aborted) return;
      log.error({ err }, 'upgrade failed');
      refuse(res, 'unavailable');
    }), () => !aborted);

    async function upgrade(r: HttpResponse, hd: UpgradeRequest, uwsContext: us_socket_context_t): Promise<void> {
      if (!originAllowed(hd.origin, hd.host, config.allowedOrigins)) return refuse(r, 'forbidden_origin');
      const connId = randomUUID();
      // Round trip 1, before the token is looked at: the attempt counts against CONN_RATE_PER_IP
      // valid or not, and MAX_CONNS_PER_IP (every worker) is leased, so free accounts cannot lift
      // either. A Redis failure here rejects and is answered 503 above.
      const gate = await passIpGate(redis, hd.ip, connId, config);
      if (aborted) {
        if (gate.ok) leases.releaseIp(hd.ip, connId);
        return;
      }
      if (!gate.ok) {
        if (gate.reason === 'rate') return refuse(r, 'too_many_requests', { 'retry-after': String(gate.retryAfterS) });
        return refuse(r, 'too_many_connections', { 'retry-after': '5' });
      }
      let admitted = false;
      try {
        // Round trip 2, after the JWT verified: its session, and the user's socket lease
        // (MAX_SOCKETS_PER_USER across every worker, released on close).
        const auth = await checkAccess(tokens, bearerToken(hd.authorization) ?? (hd.queryToken || undefined),
          (claims) => passSessionGate(redis, claims, connId, config.maxSocketsPerUser));
        if (aborted) {
          if (auth.ok && !auth.session.full) leases.release(auth.session.userId, connId);
          return;
        }
        if (!auth.ok) return refuse(r, auth.reason === 'unavailable' ? 'unavailable' : 'unauthorized');
        const session = auth.session;
        if (session.full) return refuse(r, 'too_many_sockets');
        const data: SocketData = {
          connId, userId: session.userId, username: session.username, sid: session.sid, ip: hd.ip,
          expiresAt: auth.expiresAt, closed: false, reportedBytes: 0,
        };
        admitted = true;
        upgradeCorked(r, () => r.upgrade(data, hd.key, hd.protocol, hd.extensions, uwsContext), carrier.current ?? registry.any());
      } finally {
        // A refused or abandoned upgrade gives its IP place back; an open socket does so on close.
        if (!admitted) leases.releaseIp(hd.ip, connId);
      }
    }
  };
}

/** Refuses an upgrade with a coded JSON body; no socket is created. */
function refuse(res: HttpResponse, code: ErrorCode, extraHeaders: Record<string, string> = {}): void {
  const e = ErrorCodes[code];
  countHttpError(code);
  res.cork(() => {
    res.writeStatus(statusLine(e.status));
    res.writeHeader('content-type', 'application/json');
    for (const [k, v] of Object.entries(extraHeaders)) res.writeHeader(k, v);
    res.end(JSON.stringify({ error: { code, message: e.message } }));
  });
}

/**
 * Runs an async upgrade corked, working around a uWS 20.30 bug (uWebSockets#1928, fixed upstream
 * by #1929, not in the pinned build): when `res.cork(() => res.upgrade())` runs outside a uWS
 * callback, cork's epilogue reads the HTTP state of the socket that was just reallocated into a
 * WebSocket, and now and then closes it (1006 right after the 101) or arms an HTTP timeout on it.
 * Inside another open socket's cork, `res.cork` only runs its callback — uWS.js still counts the
 * writes as corked, so no warning — and the epilogue that follows is the carrier's own, which is
 * sound. The carrier is the worker's own socket (cork-carrier.ts); only while it is being reopened
 * does an open client socket stand in, and with none at all the plain path is the last resort.
 */
function upgradeCorked(res: HttpResponse, upgrade: () => void, carrier: { cork(cb: () => void): unknown } | undefined): void {
  if (carrier) carrier.cork(() => res.cork(upgrade));
  else res.cork(upgrade);
}
