/**
 * Reads a ZeroMQ socket until it is closed. A receive that fails while the socket is meant to be
 * open is fatal: the process exits 1 rather than carry on as a zombie whose feed, control or
 * ingest link is dead while it still looks healthy (`tickgate start` then stops the rest too).
 */
import type { Logger } from 'pino';

export function receiveLoop(
  socket: AsyncIterable<Buffer[]>,
  handle: (frames: Buffer[]) => void | Promise<void>,
  opts: { what: string; log: Logger; closed: () => boolean },
): void {
  void (async () => {
    try {
      for await (const frames of socket) {
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
