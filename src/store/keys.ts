/** Every Redis key and channel tickgate uses, in one place. All live under the `tg:` prefix. */
export const Keys = {
  /** hash {id, username, pw}: a user, by username */
  user: (username: string) => `tg:user:${username}`,
  /** string: username of a user id */
  userById: (id: string) => `tg:uid:${id}`,
  /** hash {uid, username, rt, created}: a login session; expires with its refresh token */
  session: (sid: string) => `tg:sess:${sid}`,
  /** set: hashes of refresh tokens already rotated out of a session (reuse ⇒ revoke) */
  sessionUsedRefresh: (sid: string) => `tg:sess:${sid}:used`,
  /** hash token → newest tick as JSON (full fields + seq): snapshots and seq continuity */
  lastTicks: 'tg:last',
  /** string: the epoch of the current seq numbering */
  epoch: 'tg:epoch',
  /** set of paused tokens; `pausedAll` is "1" while every feed is paused */
  pausedTokens: 'tg:paused',
  pausedAll: 'tg:paused:all',
  /** pub/sub channel for cross-worker actions (logout, REST subscriptions, operator messages) */
  bus: 'tg:bus',
} as const;
