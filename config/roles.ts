/**
 * Which settings each single-purpose role reads (§2: each role validates and requires only the
 * variables it uses, so a feed never needs `JWT_SECRET`). A setting named in no list here is
 * validated by every role: a new setting is checked everywhere until it is placed. `start` and
 * `bench` run everything, so they validate everything.
 */
import type { schema } from './schema.ts';

type Key = keyof typeof schema;

const common: Key[] = ['logLevel', 'nodeEnv', 'dataDir'];

export const ROLE_SETTINGS: Readonly<Record<string, readonly Key[]>> = Object.freeze({
  feed: [...common, 'feedBind', 'simTokens', 'simRate'],
  ingester: [...common, 'redisUrl', 'feedEndpoints', 'ingestBind', 'controlBind', 'staleMs', 'tokenForgetS', 'historySize', 'ingestHwm'],
  gateway: [
    ...common, 'host', 'port', 'redisUrl', 'jwtSecret', 'ingestBind', 'ingestHwm', 'heartbeatMs', 'pongTimeoutMs', 'staleMs',
    'allowedOrigins', 'accessTtlS', 'refreshTtlS', 'reauthLeadMs', 'maxTokensPerSocket', 'maxSocketsPerUser', 'msgRate', 'msgBurst',
    'loginLimitPerMin', 'connRatePerIp', 'bodyLimitBytes', 'drainMs', 'slowCloseMs', 'historySize', 'gatewayHeap',
  ],
  ctl: [...common, 'controlBind'],
});

const placed = new Set(Object.values(ROLE_SETTINGS).flat());

/** Whether `role` must validate `key`. Without a role (or for start, bench): every key. */
export function roleValidates(role: string | undefined, key: string): boolean {
  const used = role === undefined ? undefined : ROLE_SETTINGS[role];
  if (!used) return true;
  return used.includes(key as Key) || !placed.has(key as Key);
}
