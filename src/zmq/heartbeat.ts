/**
 * ZMTP heartbeats for every long-lived ZeroMQ connection on the tick path (feed SUB, ingest XPUB,
 * gateway SUB). Without them a peer that vanished without a FIN (host down, cable pulled, process
 * SIGSTOPped behind a NAT) keeps its TCP connection "open" for as long as the kernel cares to:
 * a SUB would wait for ticks forever and never reconnect, and an XPUB would keep a dead gateway's
 * subscriptions (and count it as a worker). With heartbeats the side that stops hearing its peer
 * drops the connection; a connecting side then reconnects by itself.
 *
 * Each side PINGs every interval; a PING unanswered by any traffic for `timeout` drops the
 * connection, and `ttl` asks the peer to drop it after that long without hearing from us. A dead
 * peer is noticed within about interval + timeout (4 s), inside the default STALE_MS (5 s).
 */
import type * as zmq from 'zeromq';

export const ZMQ_HEARTBEAT_INTERVAL_MS = 1_000;
export const ZMQ_HEARTBEAT_TIMEOUT_MS = 3_000;
/** Rounded down to deciseconds by libzmq; below 100 it has no effect. */
export const ZMQ_HEARTBEAT_TTL_MS = 3_000;

/** Sets the heartbeat options; call before `bind`/`connect` (they apply to new connections). */
export function enableHeartbeats(socket: zmq.Socket): void {
  socket.heartbeatInterval = ZMQ_HEARTBEAT_INTERVAL_MS;
  socket.heartbeatTimeout = ZMQ_HEARTBEAT_TIMEOUT_MS;
  socket.heartbeatTimeToLive = ZMQ_HEARTBEAT_TTL_MS;
}
