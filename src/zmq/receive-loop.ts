/**
 * Reads a ZeroMQ socket until it is closed. A receive that fails while the socket is meant to be
 * open is fatal: the process exits 1 rather than carry on as a zombie whose feed, control or
 * ingest link is dead while it still looks healthy (`tickgate start` then stops the rest too).
 */
import type { Logger } from 'pino';

/** What the loop needs of a zeromq.js socket. */
export interface ReceivingSocket {
  receive(): Promise<Buffer[]>;
  readonly closed: boolean;
}

export function receiveLoop(
  socket: ReceivingSocket,
  handle: (frames: Buffer[]) => void | Promise<void>,
  opts: { what: string; log: Logger; closed: () => boolean },
): void {
  void (async () => {
    try {
      // `receive()` directly rather than `for await`: zeromq.js's async iterator wraps every
      // message in one more async function and result object, a measurable share of the
      // ingester's cost per tick. The loop ends as the iterator would: once the socket is closed
      // (a receive pending at the close fails with EAGAIN).
      while (!socket.closed) {
        let frames: Buffer[];
        try {
          frames = await socket.receive();
        } catch (err) {
          if (socket.closed && (err as { code?: string }).code === 'EAGAIN') return;
          throw err;
        }
        // Only asynchronous handlers are awaited: the feed's handler is the tick path.
        const pending = handle(frames);
        if (pending) await pending;
      }
    } catch (err) {
      if (opts.closed()) return;
      opts.log.fatal({ err }, `${opts.what} socket failed; exiting`);
      process.exit(1);
    }
  })();
}
