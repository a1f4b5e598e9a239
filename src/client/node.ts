/** `tickgate/client` in Node 20: the browser API, with the `ws` package as its WebSocket. */
import WebSocket from 'ws';
import { TickgateClient as BaseClient, type ClientOptions } from './client.ts';
import type { WebSocketConstructor } from './types.ts';

export * from './index.ts';

export class TickgateClient extends BaseClient {
  constructor(opts: ClientOptions) {
    super({ WebSocket: WebSocket as unknown as WebSocketConstructor, ...opts });
  }
}
