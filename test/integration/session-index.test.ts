/**
 * A user's index of session ids (`tg:usess:<uid>`) stays bounded: a login prunes the ids of ended
 * sessions, and the index expires with the newest session's absolute lifetime. Real redis-server.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { createSession, deleteSession, revokeUserSessions } from '../../src/auth/sessions.ts';
import { createUser, type User } from '../../src/auth/users.ts';
import { Keys } from '../../src/store/keys.ts';
import { startTestRedis } from '../helpers/redis.ts';
import { until } from '../helpers/wait.ts';

const server = await startTestRedis({ after });
const redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
after(() => redis.disconnect());

const LIFE = { refreshTtlS: 3_600, maxAgeS: 86_400 };
let n = 0;

async function newUser(): Promise<User> {
  const u = await createUser(redis, `idx_${process.pid}_${++n}`, 'not-a-real-hash');
  assert.notEqual(u, 'taken');
  return u as User;
}

const index = async (u: User) => (await redis.smembers(Keys.userSessions(u.id))).sort();

test('a login drops the ids of sessions that ended (logged out or expired) from the user\'s index', async () => {
  const u = await newUser();
  const [a, b, c] = [await createSession(redis, u, LIFE), await createSession(redis, u, LIFE), await createSession(redis, u, LIFE)];
  assert.deepEqual(await index(u), [a.sid, b.sid, c.sid].sort());
  await deleteSession(redis, a.sid); // logout
  await redis.pexpire(Keys.session(b.sid), 1); // its refresh token ran out
  await until('session b to expire', async () => (await redis.exists(Keys.session(b.sid))) === 0);
  const d = await createSession(redis, u, LIFE);
  assert.deepEqual(await index(u), [c.sid, d.sid].sort());
  assert.equal(await revokeUserSessions(redis, u.username), 2, 'revoking still finds every live session');
});

test('a user who logs in and out over and over keeps an index of at most the live sessions', async () => {
  const u = await newUser();
  const keep = await createSession(redis, u, LIFE);
  for (let i = 0; i < 200; i++) {
    const s = await createSession(redis, u, LIFE);
    await deleteSession(redis, s.sid);
  }
  // The last logout happened after the last login's pruning: that one id is still listed.
  assert.equal((await index(u)).length, 2);
  assert.ok((await index(u)).includes(keep.sid));
});

test('the index expires no later than SESSION_MAX_AGE_S after the newest login', async () => {
  const u = await newUser();
  await createSession(redis, u, LIFE);
  const ttl = await redis.ttl(Keys.userSessions(u.id));
  assert.ok(ttl > LIFE.maxAgeS - 60 && ttl <= LIFE.maxAgeS, `ttl ${ttl}`);
});
