/**
 * The sockets of a session or a user, across every worker and host.
 *
 * Locally, `SocketRegistry` (socket-model.ts) knows this worker's sockets. Across workers, Redis holds a lease per open socket: a member `connId` of the user's zset
 * `tg:usock:<uid>`, scored with the lease's expiry (per client IP likewise, `tg:ipsock:<ip>`).
 * Admission is a Lua script run by the upgrade (upgrade-gates.ts: drop lapsed leases, refuse at
 * the limit, add), so concurrent upgrades on different workers cannot overshoot the limits. Every worker renews its sockets' leases every LEASE_RENEW_MS; the leases
 * of a worker that died lapse after LEASE_TTL_MS. A close removes the lease; a removal that fails
 * while Redis is away is retried on the next renewal. Lease times are the workers' clocks: hosts
 * are assumed to agree within a few seconds, far below LEASE_TTL_MS.
 *
 * The renewal pass also re-checks that every local session still exists and closes the sockets of
 * those that do not (4003). Pub/sub delivers at most once, so this is what closes a socket whose
 * worker missed a `session.revoked` message while its subscriber connection was down.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Keys } from '../store/keys.ts';
import { closeSessionSockets, type SocketRegistry } from './socket-model.ts';

export const LEASE_TTL_MS = 30_000;
export const LEASE_RENEW_MS = 10_000;

export class SessionSockets {
  private timer: NodeJS.Timeout | undefined;
  /** userId → connIds whose lease removal failed; retried with the next renewal. */
  private readonly unreleased = new Map<string, Set<string>>();
  private renewing: Promise<void> | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly registry: SocketRegistry,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.renew(), LEASE_RENEW_MS);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** Gives a per-IP lease back. Never throws; a failure lapses with the lease. */
  releaseIp(ip: string, connId: string): void {
    this.redis.zrem(Keys.ipSockets(ip), connId).catch((err: Error) => {
      this.log.debug({ err, ip }, 'ip lease release failed; it lapses');
    });
  }

  /** Gives a closed (or never opened) socket's lease back. Never throws. */
  release(userId: string, connId: string): void {
    this.redis.zrem(Keys.userSockets(userId), connId).catch((err: Error) => {
      this.log.debug({ err, user: userId }, 'lease release failed; retrying at the next renewal');
      this.requeueRelease(userId, connId);
    });
  }

  private requeueRelease(userId: string, connId: string): void {
    let s = this.unreleased.get(userId);
    if (!s) this.unreleased.set(userId, (s = new Set()));
    s.add(connId);
  }

  /**
   * Renews every local lease, retries failed releases, and closes local sockets of sessions that
   * no longer exist. Safe to call at any time (for example right after Redis came back).
   */
  renew(): Promise<void> {
    this.renewing ??= this.renewOnce().finally(() => {
      this.renewing = undefined;
    });
    return this.renewing;
  }

  private async renewOnce(): Promise<void> {
    if (this.redis.status !== 'ready') return;
    const expiry = Date.now() + LEASE_TTL_MS;
    const pipe = this.redis.pipeline();
    for (const [userId, sockets] of this.registry.byUser) {
      const members: (string | number)[] = [];
      for (const ws of sockets) {
        const d = ws.getUserData();
        if (!d.closed) members.push(expiry, d.connId);
      }
      if (members.length === 0) continue;
      pipe.zadd(Keys.userSockets(userId), ...members);
      pipe.pexpire(Keys.userSockets(userId), LEASE_TTL_MS);
    }
    const byIp = new Map<string, (string | number)[]>();
    for (const sockets of this.registry.byUser.values()) {
      for (const ws of sockets) {
        const d = ws.getUserData();
        if (d.closed) continue;
        let m = byIp.get(d.ip);
        if (!m) byIp.set(d.ip, (m = []));
        m.push(expiry, d.connId);
      }
    }
    for (const [ip, members] of byIp) {
      pipe.zadd(Keys.ipSockets(ip), ...members);
      pipe.pexpire(Keys.ipSockets(ip), LEASE_TTL_MS);
    }
    const released = [...this.unreleased];
    this.unreleased.clear();
    const firstRelease = pipe.length;
    for (const [userId, conns] of released) pipe.zrem(Keys.userSockets(userId), ...conns);
    const sids = [...this.registry.bySession.keys()];
    const firstExists = pipe.length;
    for (const sid of sids) pipe.exists(Keys.session(sid));
    if (pipe.length === 0) return;
    let results: [Error | null, unknown][];
    try {
      results = (await pipe.exec()) ?? [];
    } catch (err) {
      // Redis went away mid-way: leases stay as they were, and the releases are retried next time.
      this.log.debug({ err }, 'socket lease renewal failed');
      results = [];
    }
    released.forEach(([userId, conns], i) => {
      if (results[firstRelease + i]?.[0] !== null) for (const c of conns) this.requeueRelease(userId, c);
    });
    let revoked = 0;
    sids.forEach((sid, i) => {
      const r = results[firstExists + i];
      // Only a definite "no such session" closes sockets; an error says nothing about the session.
      if (r !== undefined && r[0] === null && r[1] === 0) revoked += closeSessionSockets(this.registry, sid);
    });
    if (revoked > 0) this.log.info({ sockets: revoked }, 'closed sockets of sessions that ended while unnoticed');
  }
}
