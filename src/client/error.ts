/**
 * A failure the caller can act on; `code` is the server's error code or one of the SDK's own.
 * In its own file because the HTTP, session and socket code all throw it.
 */
export class TickgateError extends Error {
  constructor(
    /** Server codes (`invalid_credentials`, `username_taken`, …) or `unreachable`, `disconnected`, `timeout`, `session_ended`, `not_logged_in`. */
    readonly code: string,
    message: string,
    /** HTTP status, 0 when there was no HTTP answer. */
    readonly status = 0,
  ) {
    super(message);
    this.name = 'TickgateError';
  }
}
