/**
 * The one import of uWebSockets.js. The npm package it comes from silently falls back to a slow
 * pure-JS polyfill when its native addon cannot load; tickgate refuses to run on the polyfill.
 */
import uws from 'uWebSockets.js';

export { uws };
export type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_listen_socket, us_socket_context_t } from 'uWebSockets.js';

/** True when the native addon is loaded (the polyfill's App is plain JavaScript). */
export function isNativeUws(): boolean {
  return typeof uws.App === 'function' && /\[native code\]/.test(Function.prototype.toString.call(uws.App))
    && typeof (uws as unknown as { getParts?: unknown }).getParts === 'function';
}

export function assertNativeUws(): void {
  if (!isNativeUws()) {
    throw new Error(
      `uWebSockets.js native addon did not load (Node ${process.versions.node}, ABI ${process.versions.modules}, ` +
        `${process.platform}-${process.arch}); refusing to run on the slow fallback. Use Node 20 on linux-x64/arm64 ` +
        'and unset UWS_USE_FALLBACK.',
    );
  }
}
