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
import type { GatewayContext } from './context.ts';
import { IngestLink } from './ingest-link.ts';
import { handleOperatorBroadcast } from './operator-actions.ts';
import { registerRoutes } from './routes.ts';
import { registerSessionRoutes } from './session-routes.ts';
import { SessionSockets } from './session-sockets.ts';
import { encode } from '../protocol/server-messages.ts';
import { closeSessionSockets, deliverToSession, isLive, sendText, SocketRegistry } from './socket-model.ts';
import { registerSocketRoute } from './ws-route.ts';
import { assertNativeUws, uws, type us_listen_socket } from './uws.ts';

/** Reconnect hints sent with `shutdown`: spread over [min, min + spread) ms. */
const SHUTDOWN_RECONNECT_MIN_MS = 500;
const SHUTDOWN_RECONNECT_SPREAD_MS = 4_500;

export interface Gateway {
  port: number;
  ctx: GatewayContext;
  registry: SocketRegistry;
  close(): Promise<void>;
}

export async function startGateway(config: Config, jwtSecret: string, log: Logger): Promise<Gateway> {
  assertNativeUws();
  if (!config.redisUrl) throw new Error('REDIS_URL is required for a gateway (`tickgate start` runs an embedded Redis)');
  const app = uws.App();
  const redis = connectRedis(config.redisUrl, log, 'gateway');
  const registry = new SocketRegistry();
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
  });
  const sessionSockets = new SessionSockets(redis, registry, config.maxSocketsPerUser, log);
  const bus = new Bus(config.redisUrl, redis, log, {
    revokeSession: (sid) => closeSessionSockets(registry, sid),
    sessionCommand: (sid, cmd) => deliverToSession(registry, sid, cmd),
    // A bus that was down may have missed revocations: re-check the local sessions at once.
    resubscribed: () => void sessionSockets.renew(),
  });
  const ctx: GatewayContext = {
    config, app, redis, link, log,
    tokens: new AccessTokens(jwtSecret, config.accessTtlS),
    workerId: String(process.pid),
    bus, sessionSockets,
  };
  const stopSocketChecks = registerSocketRoute({
    config, app, redis, link, log, registry, tokens: ctx.tokens, leases: sessionSockets, workerId: ctx.workerId,
  });
  registerSessionRoutes(ctx);
  registerRoutes(ctx);
  link.start();
  sessionSockets.start();

  const listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen(config.host, config.port, (s) => (s ? resolve(s) : reject(new Error(`cannot listen on ${config.host}:${config.port}`))));
  });
  const port = uws.us_socket_local_port(listenSocket as never);
  log.info({ host: config.host, port, ingest: config.ingestBind }, 'gateway listening');

  let closed = false;
  return {
    port, ctx, registry,
    async close() {
      if (closed) return;
      closed = true;
      uws.us_listen_socket_close(listenSocket);
      stopSocketChecks();
      // Clients learn to reconnect, each after its own jittered delay so they do not all return at
      // once. (A drain window that keeps serving for DRAIN_MS comes with graceful drain.)
      for (const ws of [...registry.all()]) {
        if (isLive(ws)) ws.getUserData().actor!.send({ type: 'server.drain', reconnectAfterMs: SHUTDOWN_RECONNECT_MIN_MS + Math.floor(Math.random() * SHUTDOWN_RECONNECT_SPREAD_MS) });
        // A socket whose actor is gone (it failed, or the socket is between upgrade and open) has
        // no one to decide: it goes with the server.
        else registry.end(ws, CloseCodes.goingAway);
      }
      link.close();
      sessionSockets.close();
      await bus.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
