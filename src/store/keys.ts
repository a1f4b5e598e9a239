/** Every Redis key and channel tickgate uses, in one place. All live under the `tg:` prefix. */
export const Keys = {
  /** hash {id, username, pw}: a user, by username */
  user: (username: string) => `tg:user:${username}`,
  /** string: username of a user id */
  userById: (id: string) => `tg:uid:${id}`,
  /**
   * hash {uid, username, rt, created, prev, prevAt}: a login session; expires with its refresh
   * token, and never later than SESSION_MAX_AGE_S after `created`. `prev`/`prevAt`: the token
   * rotated out last and when (the REFRESH_GRACE_MS window)
   */
  session: (sid: string) => `tg:sess:${sid}`,
  /**
   * set of a user's session ids: what `disconnect` with `revoke` ends. Ids of ended sessions are
   * pruned at each login (the only time it grows), and it expires SESSION_MAX_AGE_S after the
   * newest login, when every session in it has ended
   */
  userSessions: (userId: string) => `tg:usess:${userId}`,
  /**
   * list, newest first, at most ROTATED_KEEP entries: hashes of refresh tokens rotated out of a
   * session (reuse ⇒ revoke). Bounded so that a refresh loop cannot grow it.
   */
  sessionRotated: (sid: string) => `tg:sess:${sid}:rotated`,
  /** hash token → newest tick as JSON (full fields + seq): snapshots and seq continuity */
  lastTicks: 'tg:last',
  /**
   * hash token → newest feed value received while the token was paused (JSON, no seq: it gets
   * the next seq when resume publishes it); an entry lives only until that publication
   */
  heldTicks: 'tg:held',
  /** set of tokens the ingester currently reports `stale` (no tick for STALE_MS) */
  staleTokens: 'tg:stale',
  /**
   * hash token → when the feed last sent it (ms epoch, ingest clock; written about once per
   * eviction round, so it may lag by up to a minute): a restarted ingester keeps counting
   * TOKEN_FORGET_S from there instead of from its start (token-eviction.ts)
   */
  lastSeen: 'tg:seen',
  /**
   * string: the seq floor, the highest last seq of any token the ingester forgot. A token new to
   * the books starts after it, so a forgotten token that returns never reuses a seq a client may
   * hold (docs/delivery.md, "Forgotten tokens"). Never lowered, also not by a new epoch.
   */
  seqFloor: 'tg:seqfloor',
  /** string: the epoch of the current seq numbering (a UUID; see the ingester's start) */
  epoch: 'tg:epoch',
  /**
   * string: the epoch a cleanly stopped ingester left behind, written only after everything it
   * issued was persisted. The next start consumes it (GETDEL); without it the epoch changes.
   */
  cleanShutdown: 'tg:clean',
  /**
   * stream per token: its last HISTORY_SIZE published ticks (approximately: `MAXLEN ~`), entry ID
   * `<seq>-0`, one field `t` holding the tick JSON. Holds the current epoch's ticks only.
   */
  history: (token: number) => `tg:hist:${token}`,
  /** SCAN pattern matching every `history` stream */
  historyPattern: 'tg:hist:*',
  /** set of paused tokens; `pausedAll` is "1" while every feed is paused */
  pausedTokens: 'tg:paused',
  pausedAll: 'tg:paused:all',
  /**
   * pub/sub channel for cross-worker session actions: a revoked session (logout, refresh-token
   * reuse) and REST subscriptions. Operator messages (`notify`, `announce`, `disconnect`) do not
   * use it: the ingester broadcasts them to every worker over ZeroMQ (see `operatorBroadcast` in
   * src/ingester/control-commands.ts).
   */
  bus: 'tg:bus',
  /** pub/sub channel of one gateway instance: replies to the requests it published on `bus` */
  busReply: (instanceId: string) => `tg:bus:reply:${instanceId}`,
  /** zset connId → lease expiry (ms epoch): a user's open sockets on every worker (socket limit) */
  userSockets: (userId: string) => `tg:usock:${userId}`,
  /**
   * counters with a 60 s window: failed logins for one (username, client IP) pair and from one
   * client IP (both refuse with 429), and for one username from anywhere (only slows its logins)
   */
  loginFailsPair: (username: string, ip: string) => `tg:throttle:login:p:${ip}:${username}`,
  loginFailsIp: (ip: string) => `tg:throttle:login:ip:${ip}`,
  loginFailsUser: (username: string) => `tg:throttle:login:u:${username}`,
  /** counter with a 60 s window: registrations from one client IP */
  registrationsIp: (ip: string) => `tg:throttle:register:${ip}`,
  /** zset connId → lease expiry (ms epoch): open sockets of one client IP on every worker */
  ipSockets: (ip: string) => `tg:ipsock:${ip}`,
  /** counter with a 10 s window: WebSocket upgrade attempts from one client IP */
  connAttemptsIp: (ip: string) => `tg:throttle:conn:${ip}`,
  /**
   * string (prom-client JSON, expires unless refreshed): the newest metrics of one process
   * (`gateway:<pid>`, `ingester:<pid>`, `supervisor:<pid>`); `/metrics` on any worker sums them
   */
  metricsSnapshot: (processId: string) => `tg:metrics:${processId}`,
  /** set of process ids that published a metrics snapshot (pruned when its snapshot expired) */
  metricsProcesses: 'tg:metrics:procs',
} as const;
