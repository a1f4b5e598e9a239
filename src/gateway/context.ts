/** What the gateway's routes and socket handlers share. Built once per worker in gateway.ts. */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../../config/index.ts';
import type { AccessTokens } from '../auth/tokens.ts';
import type { IngestLink } from './ingest-link.ts';
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
}
