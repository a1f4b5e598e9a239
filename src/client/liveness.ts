/**
 * The in-band heartbeat. A browser cannot see the server's WebSocket pings, so the client sends
 * its own `ping` when it has heard nothing for `heartbeat_ms`, and gives the socket up when that
 * ping goes unanswered for `pongTimeoutMs`: a network that dies without a close is otherwise
 * never noticed.
 */
export interface LivenessHooks {
  /** Whether there is a welcomed socket to watch right now. */
  live: () => boolean;
  ping: () => void;
  /** The socket stayed silent after a ping: drop it and reconnect. */
  dead: () => void;
}

export class Liveness {
  private lastHeardAt = 0;
  private pingSentAt: number | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly pongTimeoutMs: number) {}

  /** Anything arrived from the server: the socket is alive. */
  heard(): void {
    this.lastHeardAt = Date.now();
    this.pingSentAt = undefined;
  }

  start(heartbeatMs: number, hooks: LivenessHooks): void {
    this.stop();
    const quietMs = Math.max(1_000, heartbeatMs || 20_000);
    this.heard();
    this.timer = setInterval(() => {
      if (!hooks.live()) return;
      const now = Date.now();
      if (this.pingSentAt !== undefined && now - this.pingSentAt > this.pongTimeoutMs) {
        hooks.dead();
      } else if (this.pingSentAt === undefined && now - this.lastHeardAt >= quietMs) {
        this.pingSentAt = now;
        hooks.ping();
      }
    }, Math.min(1_000, quietMs / 2));
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
