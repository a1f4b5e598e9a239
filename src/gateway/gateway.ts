/**
 * One gateway worker: the uWS app (HTTP API + /ws), its link to the ingester and its Redis
 * client. Several workers may listen on the same port (uSockets sets SO_REUSEPORT on Linux).
 */
import { loadClientCurve } from '../zmq/curve.ts';
import type { Logger } from 'pino';
import type { Config } from '../../config/index.ts';
import { AccessTokens } from '../auth/tokens.ts';
import { CloseCodes } from '../protocol/close-codes.ts';
import { connectRedis } from '../store/redis.ts';
import { Bus } from './bus.ts';
import { CorkCarrier } from './cork-carrier.ts';
import type { GatewayContext } from './context.ts';
import { closeOffsets, readyzGraceMs, reconnectAfterMs } from './drain.ts';
import { gatewayMetrics } from './gateway-metrics.ts';
import { registerMetricsRoute } from './metrics-route.ts';
import { MetricsPublisher } from '../metrics/snapshots.ts';
import { IngestLink } from './ingest-link.ts';
import { handleOperatorBroadcast } from './operator-actions.ts';
import { registerRoutes } from './routes.ts';
import { registerSessionRoutes } from './session-routes.ts';
import { SessionSockets } from './session-sockets.ts';
import { encode } from '../protocol/server-messages.ts';
import { closeSessionSockets, deliverToSession, isLive, sendText, SocketRegistry, type Socket } from './socket-model.ts';
import { registerSocketRoute } from './ws-route.ts';
import { assertNativeUws, uws, type us_listen_socket } from './uws.ts';

/** After the last scheduled close, how long the worker waits for uWS to report the closes. */
const CLOSE_SETTLE_MS = 200;

export interface Gateway {
  port: number;
  ctx: GatewayContext;
  registry: SocketRegistry;
  close(): Promise<void>;
}

/** How long a starting worker waits for Redis before it listens anyway. */
const REDIS_READY_WAIT_MS = 5_000;

export async function startGateway(config: Config, jwtSecret: string, log: Logger): Promise<Gateway> {
  assertNativeUws();
  if (!config.redisUrl) throw new Error('REDIS_URL is required for a gateway (`tickgate start` runs an embedded Redis)');
  const app = uws.App();
  // Auto-pipelining: commands issued in the same tick go out in one write (a connect storm issues
  // two scripts per upgrade; see upgrade-gates.ts). Each command still resolves or fails alone.
  const redis = connectRedis(config.redisUrl, log, 'gateway', { enableAutoPipelining: true });
  const registry = new SocketRegistry();
  let draining = false;
  const link = new IngestLink({
    app, redis, log, endpoint: config.ingestBind, receiveHighWaterMark: config.ingestHwm,
    ...(config.zmqCurveDir ? { curve: loadClientCurve(config.zmqCurveDir) } : {}),
    // Operator broadcasts (notify, announce, disconnect) act on this worker's sockets.
    onBroadcast: (msg) => handleOperatorBroadcast(registry, msg, log),
    // Before the streams' fresh snapshots: the client learns its seqs restarted.
    onEpoch: (epoch) => {
      const text = encode({ type: 'epoch', epoch });
      for (const ws of registry.all()) if (isLive(ws)) sendText(ws, text);
    },
    onLatencySample: (json) => metrics.observeLatency(json),
  });
  const sessionSockets = new SessionSockets(redis, registry, log);
  const bus = new Bus(config.redisUrl, redis, log, {
    revokeSession: (sid) => closeSessionSockets(registry, sid),
    sessionCommand: (sid, cmd) => deliverToSession(registry, sid, cmd),
    // A bus that was down may have missed revocations: re-check the local sessions at once.
    resubscribed: () => void sessionSockets.renew(),
  });
  const metrics = gatewayMetrics({ registry, link, redis, busReady: () => bus.ready });
  const metricsPublisher = new MetricsPublisher(redis, metrics.registry, 'gateway', log);
  const ctx: GatewayContext = {
    config, app, redis, link, log,
    tokens: new AccessTokens(jwtSecret, config.accessTtlS),
    workerId: String(process.pid),
    bus, sessionSockets,
    draining: () => draining,
  };
  const carrier = await CorkCarrier.open(log);
  const stopSocketChecks = registerSocketRoute({
    config, app, redis, link, log, registry, tokens: ctx.tokens, leases: sessionSockets, workerId: ctx.workerId, carrier,
  });
  registerMetricsRoute(app, redis, metricsPublisher, log);
  registerSessionRoutes(ctx);
  registerRoutes(ctx);
  link.start();
  sessionSockets.start();
  metricsPublisher.start();

  // Redis commands fail fast while it is not connected (no offline queue), so a worker that
  // listened at once would answer its first requests 503 while its siblings on the same port
  // (SO_REUSEPORT) answer them normally. Wait for the connection, but only so long: with Redis
  // down the worker still listens and answers 503 `unavailable`, as it must.
  if (redis.status !== 'ready') {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => redis.once('ready', () => resolve())),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, REDIS_READY_WAIT_MS))),
    ]);
    clearTimeout(timer);
  }
  const listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen(config.host, config.port, (s) => (s ? resolve(s) : reject(new Error(`cannot listen on ${config.host}:${config.port}`))));
  });
  const port = uws.us_socket_local_port(listenSocket as never);
  log.info({ host: config.host, port, ingest: config.ingestBind }, 'gateway listening');

  let closing: Promise<void> | undefined;
  /**
   * The drain (see drain.ts): 503 on /readyz, then no new connections, then each socket gets
   * `shutdown` and 1001 at its own moment in the window while the others keep streaming.
   */
  const drain = async () => {
    const began = Date.now();
    const drainMs = config.drainMs;
    draining = true;
    await sleep(readyzGraceMs(drainMs));
    uws.us_listen_socket_close(listenSocket);
    const sockets = [...registry.all()];
    const offsets = closeOffsets(sockets.length, drainMs);
    const drainOne = (ws: Socket) => {
      if (isLive(ws)) ws.getUserData().actor!.send({ type: 'server.drain', reconnectAfterMs: reconnectAfterMs(drainMs) });
      // A socket whose actor is gone (it failed, or the socket is between upgrade and open) has
      // no one to decide: it goes with the server.
      else registry.end(ws, CloseCodes.goingAway);
    };
    const timers = sockets.map((ws, i) => setTimeout(() => drainOne(ws), Math.max(0, offsets[i]! - (Date.now() - began))));
    await sleep(Math.max(0, (offsets.at(-1) ?? 0) - (Date.now() - began)));
    // Sockets that opened during the grace period, and any timer not yet run: closed now.
    for (const t of timers) clearTimeout(t);
    for (const ws of [...registry.all()]) if (!ws.getUserData().closed) drainOne(ws);
    // uWS reports each close (and the registry forgets the socket) once its close frame is out.
    const settleBy = Math.min(began + drainMs, Date.now() + CLOSE_SETTLE_MS);
    while (registry.bySession.size > 0 && Date.now() < settleBy) await sleep(10);
  };

  return {
    port, ctx, registry,
    close() {
      closing ??= (async () => {
        await drain();
        stopSocketChecks();
        carrier.close();
        link.close();
        sessionSockets.close();
        // The final totals stay visible to the other workers' /metrics until the snapshot expires.
        metricsPublisher.stop();
        await metricsPublisher.publish();
        metrics.stop();
        await bus.close();
        await redis.quit().catch(() => redis.disconnect());
      })();
      return closing;
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
