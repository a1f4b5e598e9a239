/**
 * Password hashing with bcrypt (@node-rs/bcrypt, off the main thread). bcrypt reads at most 72
 * bytes, so longer passwords are refused at the API instead of being silently truncated.
 */
import { hash, verify } from '@node-rs/bcrypt';
import { MAX_PASSWORD_BYTES } from '../protocol/credentials.ts';

// Re-exported for gateway code that still imports them from here; the rule lives in protocol/.

export const BCRYPT_COST = 10;

export function hashPassword(password: string): Promise<string> {
  return hash(password, BCRYPT_COST);
}

// Verified against for unknown usernames so that a wrong username costs the same time as a
// wrong password: the response timing must not reveal which usernames exist.
const dummyHash = hash('tickgate-dummy-password', BCRYPT_COST);

export async function verifyPassword(password: string, stored: string | undefined): Promise<boolean> {
  // bcrypt would compare only the first 72 bytes, so "the password + anything" would log in.
  // No stored password is longer (registration refuses them): such a guess is simply wrong, and
  // costs the same bcrypt time as any other wrong guess.
  if (stored === undefined || Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) {
    await verify(password, await dummyHash);
    return false;
  }
  return verify(password, stored);
}
