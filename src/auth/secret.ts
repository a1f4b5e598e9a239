/**
 * The JWT signing key: `JWT_SECRET` when set (mandatory in production); otherwise a random key
 * generated once into `.data/jwt_secret` (mode 0600), so development restarts keep sessions and
 * every local worker signs with the same key.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Config } from '../../config/index.ts';

export function resolveJwtSecret(config: Config, dataDir: string): string {
  if (config.jwtSecret !== undefined) return config.jwtSecret;
  const file = path.join(dataDir, 'jwt_secret');
  try {
    const existing = fs.readFileSync(file, 'utf8').trim();
    if (Buffer.byteLength(existing) >= 32) return existing;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  fs.mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  fs.writeFileSync(file, secret + '\n', { mode: 0o600 });
  return secret;
}
