/**
 * A bench client process: forked by ClientFleet (client-fleet.ts) with an IPC channel, it holds
 * its share of the sockets in a ClientPool and answers the parent's requests one by one. It exits
 * when the parent goes away, so an interrupted bench leaves no client behind.
 */
import { ClientPool, type ConnectOptions, type PoolConnection } from './clients.ts';

export type WorkerRequest =
  | { cmd: 'connect'; conns: PoolConnection[]; opts: ConnectOptions }
  | { cmd: 'watch' }
  | { cmd: 'seen' }
  | { cmd: 'measure' }
  | { cmd: 'stop' }
  | { cmd: 'stall'; indexes: number[] }
  | { cmd: 'state' }
  | { cmd: 'close' };

export type WorkerReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

const pool = new ClientPool();

function handle(req: WorkerRequest): unknown {
  switch (req.cmd) {
    case 'connect': return pool.connect(req.conns, { ...req.opts, concurrency: req.opts.concurrency ?? Infinity });
    case 'watch': return pool.watchTokens();
    case 'seen': return pool.tokensSeen();
    case 'measure': return pool.startMeasuring();
    case 'stop': return pool.stopMeasuring();
    case 'stall': return pool.stall(req.indexes);
    case 'state': return { open: pool.openSockets, closes: pool.allCloses, other: pool.otherMessages };
    case 'close': return pool.closeAll();
  }
}

if (process.send) {
  process.on('message', (m: { id: number; req: WorkerRequest }) => {
    Promise.resolve()
      .then(() => handle(m.req))
      .then(
        (result) => process.send!({ id: m.id, ok: true, result: result ?? null } satisfies WorkerReply),
        (err: Error) => process.send!({ id: m.id, ok: false, error: err?.message ?? String(err) } satisfies WorkerReply),
      );
  });
  // The parent died or closed the channel: nothing left to report to.
  process.on('disconnect', () => {
    pool.closeAll();
    process.exit(0);
  });
}
