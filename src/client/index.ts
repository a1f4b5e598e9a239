/**
 * `tickgate/client` for browsers (and any runtime with a global WebSocket and fetch). Node 20 has
 * no global WebSocket: `node.ts` is the same API with the `ws` package passed in.
 */
export { TickgateClient, TickgateError, type ClientEvents, type ClientOptions, type ConnectionState, type SubscribeOptions } from './client.ts';
export { TokenView, type TokenRow } from './token-view.ts';
export { backoffDelay, drainDelay, type BackoffOptions } from './backoff.ts';
export type * from './types.ts';
