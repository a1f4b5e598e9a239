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
import { LuaScript } from '../store/lua.ts';
import { closeSessionSockets, type SocketRegistry } from './socket-model.ts';

export const LEASE_TTL_MS = 30_000;
export const LEASE_RENEW_MS = 10_000;
/** Leases (and sessions) renewed (checked) per script call: a few ms of Redis time each. */
const RENEW_BATCH = 1_000;

// KEYS: n lease zsets, then session hashes. ARGV: expiry, key ttl ms, n, then the n members.
// Renews each lease; returns the 1-based positions (among the session keys) of sessions gone.
const RENEW = new LuaScript(`
local n = tonumber(ARGV[3])
for i = 1, n do
  redis.call('ZADD', KEYS[i], ARGV[1], ARGV[3 + i])
  redis.call('PEXPIRE', KEYS[i], ARGV[2])
end
local gone = {}
for i = n + 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then gone[#gone + 1] = i - n end
end
return gone`);

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
    // Every open socket holds two leases: its user's and its IP's.
    const leaseKeys: string[] = [];
    const members: string[] = [];
    for (const ws of this.registry.all()) {
      const d = ws.getUserData();
      if (d.closed) continue;
      leaseKeys.push(Keys.userSockets(d.userId), Keys.ipSockets(d.ip));
      members.push(d.connId, d.connId);
    }
    const sids = [...this.registry.bySession.keys()];
    const released = [...this.unreleased];
    this.unreleased.clear();
    const releasing = Promise.all(released.map(async ([userId, conns]) => {
      try {
        await this.redis.zrem(Keys.userSockets(userId), ...conns);
      } catch (err) {
        // Redis went away mid-way: retried next time.
        this.log.debug({ err }, 'lease release failed; retrying at the next renewal');
        for (const c of conns) this.requeueRelease(userId, c);
      }
    }));
    // In batches, each one script call: a few commands for twenty thousand sockets instead of
    // three per socket, which cost the worker more than the Redis work itself.
    let revoked = 0;
    const batches = Math.max(Math.ceil(leaseKeys.length / RENEW_BATCH), Math.ceil(sids.length / RENEW_BATCH));
    for (let i = 0; i < batches; i++) {
      const keys = leaseKeys.slice(i * RENEW_BATCH, (i + 1) * RENEW_BATCH);
      const conns = members.slice(i * RENEW_BATCH, (i + 1) * RENEW_BATCH);
      const batchSids = sids.slice(i * RENEW_BATCH, (i + 1) * RENEW_BATCH);
      let gone: number[];
      try {
        gone = (await RENEW.run(this.redis, [...keys, ...batchSids.map((sid) => Keys.session(sid))], [expiry, LEASE_TTL_MS, keys.length, ...conns])) as number[];
      } catch (err) {
        // Redis went away mid-way: leases stay as they were; the next renewal tries again.
        this.log.debug({ err }, 'socket lease renewal failed');
        break;
      }
      // Only a definite "no such session" closes sockets; a failed call says nothing about one.
      for (const j of gone) revoked += closeSessionSockets(this.registry, batchSids[j - 1]!);
    }
    await releasing;
    if (revoked > 0) this.log.info({ sockets: revoked }, 'closed sockets of sessions that ended while unnoticed');
  }
}
