/**
 * glibc's malloc arenas for tickgate's Node processes (gateway, ingester, feed), set by the
 * launchers (`tickgate start`, the bench, the Docker image) because glibc reads it only when a
 * process starts.
 *
 * glibc gives threads that contend for malloc arenas of their own, up to 8 per core. A gateway
 * allocates natively from several threads (the main thread's uWS sockets, the ZeroMQ I/O thread's
 * messages, libuv's pool for WebCrypto's HMAC), and each arena keeps the memory it once held.
 * Measured with `npm run soak -- --minutes 20` (500 steady sockets, churn 10/s, 1,000 ticks/s),
 * two runs side by side on 2 cores, the same V8 heap (heapTotal ~55 MiB in both):
 *
 * | MALLOC_ARENA_MAX   | gateway RSS (mean) | ingester RSS (mean) | drift after warm-up   |
 * | ------------------ | ------------------ | ------------------- | --------------------- |
 * | unset (glibc: 16)  | 197 MiB            | 165 MiB             | gateway −0.6 %        |
 * | 2                  | 151 MiB            | 161 MiB             | gateway +1.0 %        |
 *
 * Memory per added socket does not change (connect-storm, 10,000 sockets: 12.4 and 13.6 KiB),
 * it is the fixed part that shrinks. A value the operator set is kept.
 */
export const DEFAULT_MALLOC_ARENA_MAX = '2';

export function withMallocArenas(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return env.MALLOC_ARENA_MAX ? env : { ...env, MALLOC_ARENA_MAX: DEFAULT_MALLOC_ARENA_MAX };
}
