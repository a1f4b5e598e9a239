/**
 * The rules for usernames and passwords on the wire, shared by the HTTP API (§5: register, login)
 * and the control plane (§4: `notify` and `disconnect` name a user).
 */

/** Username rules of §5: 3–32 characters of [A-Za-z0-9_.-]. */
export const USERNAME_RE = /^[A-Za-z0-9_.-]{3,32}$/;

/**
 * Password length in UTF-8 bytes (§5). The upper bound is bcrypt's: it reads at most 72 bytes, so
 * a longer password is refused rather than silently truncated (see auth/passwords.ts).
 */
export const MIN_PASSWORD_BYTES = 8;
export const MAX_PASSWORD_BYTES = 72;
