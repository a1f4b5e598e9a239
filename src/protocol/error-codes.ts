/**
 * Every error code a client can see, with the HTTP status it travels with on the REST API. The
 * README lists the same codes (a test checks it). Messages are ours: a library's own error text
 * never reaches a client.
 */
export const ErrorCodes = {
  // WebSocket `{"type":"error"}` codes (§6)
  bad_request: { status: 400, message: 'the request is malformed' },
  unknown_op: { status: 400, message: 'unknown op' },
  limit_exceeded: { status: 400, message: 'a limit would be exceeded' },
  rate_limited: { status: 429, message: 'too many messages; slow down' },
  // HTTP API codes (§5)
  invalid_body: { status: 400, message: 'the request body is invalid' },
  username_taken: { status: 409, message: 'that username is taken' },
  invalid_credentials: { status: 401, message: 'wrong username or password' },
  unauthorized: { status: 401, message: 'a valid access token is required' },
  invalid_refresh_token: { status: 401, message: 'the refresh token is invalid, expired or already used' },
  refresh_superseded: { status: 401, message: 'this refresh token was rotated moments ago by another request; use the pair it returned' },
  forbidden_origin: { status: 403, message: 'this origin may not open sockets' },
  not_found: { status: 404, message: 'no such route' },
  method_not_allowed: { status: 405, message: 'method not allowed on this route' },
  body_too_large: { status: 413, message: 'the request body is too large' },
  unsupported_media_type: { status: 415, message: 'send the body as application/json' },
  too_many_requests: { status: 429, message: 'too many requests; retry later' },
  too_many_sockets: { status: 429, message: 'too many open sockets for this user' },
  too_many_connections: { status: 429, message: 'too many open sockets from this address' },
  server_full: { status: 503, message: 'this server has no room for another socket; retry later' },
  unavailable: { status: 503, message: 'a backing service is unavailable; retry shortly' },
  busy: { status: 503, message: 'the server is busy; retry after the time in Retry-After' },
  internal: { status: 500, message: 'internal error' },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;
