/**
 * Which epoch an ingester publishes under.
 *
 * Epoch rule: under one epoch a (token, seq) pair names one tick forever. The epoch is kept only
 * when the previous ingester proved that everything it issued reached Redis: a clean stop flushes
 * the newest ticks, held values, stale set and history, and only then writes the clean-shutdown
 * marker (`Keys.cleanShutdown` = its epoch). A start consumes the marker (GETDEL). Marker equal
 * to the stored epoch: the restored books hold the last seq issued, so seq continues with no
 * reuse. Anything else (a crash, `kill -9`, a failed flush, Redis that lost data): a new epoch, and
 * the old epoch's history streams are deleted before anything is published. Seqs then continue
 * from the restored books, which may be behind what the crashed ingester issued; that is safe
 * because the epoch is new, so (epoch, token, seq) stays unique, and it keeps seq rising for
 * clients that ignore the epoch. (The restored newest tick keeps its seq: under the new epoch that
 * seq names only that value, since new ticks start after it.)
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { isEpochString } from '../protocol/tick-meta.ts';
import { deleteAllHistory } from '../store/history.ts';
import { Keys } from '../store/keys.ts';

/**
 * The epoch this ingester publishes under (see the epoch rule at the top). A new epoch deletes the
 * old epoch's history before it is stored, so nothing is published under it while old entries
 * remain. A crash in between is harmless: the marker is already consumed, so the next start makes
 * yet another epoch and deletes again.
 */
export async function resolveEpoch(redis: Redis, log: Logger): Promise<string> {
  const marker = await redis.getdel(Keys.cleanShutdown);
  const stored = await redis.get(Keys.epoch);
  if (stored !== null && marker === stored && isEpochString(stored)) {
    log.info({ epoch: stored }, 'clean restart: keeping the epoch, seqs continue from the saved books');
    return stored;
  }
  const reason = stored === null ? 'no stored epoch (first start, or Redis lost its data)'
    : !isEpochString(stored) ? 'the stored epoch is not a UUID'
    : marker === null ? 'no clean-shutdown marker (the previous ingester crashed or could not flush)'
    : 'the clean-shutdown marker names another epoch';
  const epoch = randomUUID();
  const deletedStreams = await deleteAllHistory(redis);
  await redis.set(Keys.epoch, epoch);
  // A first start is routine; any other new epoch means clients see `epoch` and lose `since`.
  log[stored === null ? 'info' : 'warn']({ epoch, previous: stored, reason, deletedStreams }, 'new epoch: seq continuity could not be proven');
  return epoch;
}
