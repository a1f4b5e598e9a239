/** What the HTTP routes share (the /ws route takes its own explicit deps). Built once per worker in gateway.ts. */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../../config/index.ts';
import type { AccessTokens } from '../auth/tokens.ts';
import type { Bus } from './bus.ts';
import type { IngestLink } from './ingest-link.ts';
import type { SessionSockets } from './session-sockets.ts';
import type { TemplatedApp } from './uws.ts';

export interface GatewayContext {
  config: Config;
  app: TemplatedApp;
  redis: Redis;
  tokens: AccessTokens;
  link: IngestLink;
  log: Logger;
  /** This worker's id as clients see it in `welcome` (the pid). */
  workerId: string;
  /** Cross-worker actions on sessions (revocation, REST subscriptions) over Redis pub/sub. */
  bus: Bus;
  /** Socket leases in Redis (sockets per user across workers) and the periodic session check. */
  sessionSockets: SessionSockets;
  /** True once the worker began its drain: `/readyz` answers 503 so a load balancer moves away. */
  draining(): boolean;
}
