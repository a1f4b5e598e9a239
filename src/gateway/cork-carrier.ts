/**
 * A WebSocket that exists only so that every asynchronous upgrade can run inside an open socket's
 * cork (see `upgradeCorked` in ws-upgrade.ts and uNetworking/uWebSockets#1928: an async
 * `res.cork(() => res.upgrade())` with no other socket corked now and then closes the new socket
 * right after its 101).
 *
 * Borrowing "some open client socket" for that left a worker's first socket — and the first after
 * every client had gone — on the unsafe path (the compose test once saw a fresh gateway's first
 * socket get no welcome, most likely that). So each worker connects to itself once at start: a private uWS app
 * (same event loop, so its socket's cork is the loop's cork) listens on a random loopback port,
 * accepts one upgrade that carries a random key — synchronously, inside its upgrade handler,
 * which is the safe path — and then stops listening. Nothing is ever sent on it.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import { uws, type us_listen_socket, type WebSocket as UwsSocket } from './uws.ts';

/** How long the worker's start waits for its carrier. */
const OPEN_TIMEOUT_MS = 5_000;
/** Backoff before a lost carrier is opened again (it is never expected to close). */
const REOPEN_MS = 1_000;

export class CorkCarrier {
  private socket: UwsSocket<unknown> | undefined;
  private client: WebSocket | undefined;
  private closed = false;

  private constructor(private readonly log: Logger) {}

  /** Opens the carrier; resolves once it can carry (or rejects after OPEN_TIMEOUT_MS). */
  static async open(log: Logger): Promise<CorkCarrier> {
    const c = new CorkCarrier(log);
    await c.connect();
    return c;
  }

  /** The open carrier socket, if there is one right now. */
  get current(): UwsSocket<unknown> | undefined {
    return this.socket;
  }

  close(): void {
    this.closed = true;
    this.client?.terminate();
    this.socket = undefined;
  }

  /** Tries again after REOPEN_MS, and again after each failure, until the carrier is back. */
  private reopenLater(): void {
    setTimeout(() => {
      if (this.closed) return;
      this.connect().catch((err: unknown) => {
        this.log.error({ err }, 'cork carrier could not reopen; trying again');
        this.reopenLater();
      });
    }, REOPEN_MS).unref();
  }

  private connect(): Promise<void> {
    const key = randomBytes(16).toString('hex');
    const app = uws.App();
    let listenSocket: us_listen_socket | undefined;
    const stopListening = () => {
      if (listenSocket) uws.us_listen_socket_close(listenSocket);
      listenSocket = undefined;
    };
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        stopListening();
        this.client?.terminate();
        reject(new Error(`the worker's cork carrier socket did not open within ${OPEN_TIMEOUT_MS} ms`));
      }, OPEN_TIMEOUT_MS);
      app.ws('/', {
        idleTimeout: 0,
        sendPingsAutomatically: false,
        maxPayloadLength: 16,
        upgrade: (res, req, context) => {
          // Only our own client: anyone else on the host who finds the port is refused.
          if (req.getQuery('k') !== key || this.socket) {
            res.writeStatus('403 Forbidden').end();
            return;
          }
          res.upgrade({}, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'),
            req.getHeader('sec-websocket-extensions'), context);
        },
        open: (ws) => {
          this.socket = ws;
          stopListening();
          clearTimeout(timer);
          resolve();
        },
        close: () => {
          this.socket = undefined;
          if (this.closed) return;
          this.log.warn('cork carrier socket closed; opening another');
          this.reopenLater();
        },
      });
      app.listen('127.0.0.1', 0, (s) => {
        if (!s) {
          clearTimeout(timer);
          reject(new Error('the cork carrier could not listen on 127.0.0.1'));
          return;
        }
        listenSocket = s;
        const port = uws.us_socket_local_port(s as never);
        const client = new WebSocket(`ws://127.0.0.1:${port}/?k=${key}`, { perMessageDeflate: false });
        client.on('error', (err) => this.log.warn({ err }, 'cork carrier client error'));
        this.client = client;
      });
    });
  }
}
