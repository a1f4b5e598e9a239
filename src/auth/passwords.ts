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

/**
 * Bounds the bcrypt work registrations may start. bcrypt runs on libuv's thread pool (4 threads by
 * default), which login verification shares: unbounded registrations would queue ahead of every
 * login. At most `running` hashes (1: a quarter of the pool) run at once and at most `waiting` wait for a place; a request
 * beyond that is refused at once (503 + Retry-After) instead of queueing without bound, so the
 * pool always has threads left for logins.
 */
export class HashGate {
  private active = 0;
  private readonly queue: (() => void)[] = [];

  constructor(private readonly running = 1, private readonly waiting = 16) {}

  /** The hash, or undefined when the gate is full (nothing was started). */
  async hash(password: string): Promise<string | undefined> {
    if (this.active >= this.running) {
      if (this.queue.length >= this.waiting) return undefined;
      await new Promise<void>((resolve) => this.queue.push(resolve));
    } else {
      this.active++;
    }
    try {
      return await hashPassword(password);
    } finally {
      const next = this.queue.shift();
      if (next) next(); // the place passes on: `active` stays the same
      else this.active--;
    }
  }
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
