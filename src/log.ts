/** pino loggers: one root per process, children per role and per connection. Secrets are redacted. */
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

export function createLogger(level: string, role: string): Logger {
  return pino({
    level,
    base: { role, pid: process.pid },
    redact: {
      paths: ['password', '*.password', 'access_token', '*.access_token', 'refresh_token', '*.refresh_token', 'authorization', '*.authorization'],
      censor: '[redacted]',
    },
  });
}
