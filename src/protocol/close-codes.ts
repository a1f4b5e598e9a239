/**
 * WebSocket close codes of the contract (§6). Always close through these named constants; the
 * reason strings are short and fixed because a close frame's reason is limited to 123 bytes.
 */
export const CloseCodes = {
  normal: { code: 1000, reason: 'normal' },
  goingAway: { code: 1001, reason: 'server going away' },
  policy: { code: 1008, reason: 'policy violation' },
  tooBig: { code: 1009, reason: 'frame too big' },
  internal: { code: 1011, reason: 'internal error' },
  heartbeatTimeout: { code: 4000, reason: 'heartbeat timeout' },
  tokenExpired: { code: 4001, reason: 'access token expired' },
  sessionRevoked: { code: 4003, reason: 'session revoked' },
  rateLimited: { code: 4008, reason: 'rate limit abuse' },
  slowConsumer: { code: 4009, reason: 'slow consumer' },
} as const;

export type CloseCode = (typeof CloseCodes)[keyof typeof CloseCodes];
