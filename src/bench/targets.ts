/**
 * The two servers a fan-out scenario measures on the same feed: tickgate (redis-server, ingester
 * and gateway as child processes) and the bare uWebSockets.js baseline (bare-server.ts, one child
 * process). Both look the same to a scenario: a WebSocket URL, the processes whose CPU counts as
 * the server's, the one that holds the sockets (its RSS per socket), and an access token per socket.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONNECTIONS_PER_USER, spawnScript, startServers, type RoleProcess } from './servers.ts';

export type TargetKind = 'tickgate' | 'bare';
export const TARGET_KINDS: readonly TargetKind[] = ['bare', 'tickgate'];

const BARE_SERVER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'bare-server.ts');
const BARE_READY_TIMEOUT_MS = 30_000;

export interface Target {
  kind: TargetKind;
  wsUrl: string;
  /** The process holding the sockets (tickgate's gateway, the bare server): RSS per socket is its. */
  socketHolderPid: number;
  /** Every process whose CPU counts as the server's, by name. */
  serverProcesses: Array<{ name: string; pid: number }>;
  /** What `welcome.worker` must say (tickgate only). */
  worker?: string;
  /** One access token per socket index ('' for the bare server, which checks none). */
  accessTokens(connections: number, signal?: AbortSignal): Promise<(i: number) => string>;
  /** Lines the server processes have logged so far (tickgate at LOG_LEVEL=warn: warnings and errors). */
  logLines(): number;
  /** GET /metrics (tickgate only; undefined for the bare server). */
  metrics(): Promise<string | undefined>;
  /** Rejects when a server process exits before `stop()`. */
  died: Promise<never>;
  stop(): Promise<void>;
}

export interface TargetOptions {
  dir: string;
  feedEndpoint: string;
  signal?: AbortSignal;
  /** tickgate settings for this scenario (e.g. SLOW_CLOSE_MS). */
  env?: Record<string, string>;
}

export async function startTarget(kind: TargetKind, opts: TargetOptions): Promise<Target> {
  return kind === 'tickgate' ? startTickgate(opts) : startBare(opts);
}

async function startTickgate(opts: TargetOptions): Promise<Target> {
  const s = await startServers({ dir: opts.dir, feedEndpoint: opts.feedEndpoint, signal: opts.signal, env: opts.env });
  return {
    kind: 'tickgate',
    wsUrl: s.wsUrl,
    socketHolderPid: s.gateway.pid,
    serverProcesses: [
      { name: 'gateway', pid: s.gateway.pid },
      { name: 'ingester', pid: s.ingester.pid },
      // The ingester writes every tick's history to Redis: part of what a tick costs tickgate.
      { name: 'redis', pid: s.redis.child.pid! },
    ],
    worker: String(s.gateway.pid),
    async accessTokens(connections, signal) {
      const access = await s.login(Math.max(1, Math.ceil(connections / CONNECTIONS_PER_USER)), signal);
      return (i) => access[Math.floor(i / CONNECTIONS_PER_USER)]!;
    },
    logLines: () => s.gateway.logLines() + s.ingester.logLines(),
    metrics: () => s.metrics(),
    died: s.died,
    stop: () => s.stop(),
  };
}

async function startBare(opts: TargetOptions): Promise<Target> {
  let onPort: (port: number) => void = () => {};
  const port = new Promise<number>((resolve) => (onPort = resolve));
  const proc: RoleProcess = spawnScript('bare-server', [BARE_SERVER, opts.feedEndpoint], process.env, (line) => {
    const m = /^listening (\d+)$/.exec(line);
    if (m) onPort(Number(m[1]));
  });
  let stopping = false;
  const died = proc.exited.then((code): never => {
    if (stopping) return new Promise<never>(() => {}) as never;
    throw new Error(`the bare server exited unexpectedly (${code}); its last lines:\n${proc.logTail().join('\n')}`);
  });
  died.catch(() => {});
  const stop = async () => {
    stopping = true;
    await proc.stop();
  };
  try {
    const timeout = AbortSignal.timeout(BARE_READY_TIMEOUT_MS);
    const listening = await Promise.race([port, died, new Promise<never>((_, reject) => {
      const abort = (s: AbortSignal) => s.addEventListener('abort', () => reject(s.reason as Error), { once: true });
      abort(timeout);
      if (opts.signal) abort(opts.signal);
    })]);
    return {
      kind: 'bare',
      wsUrl: `ws://127.0.0.1:${listening}/ws`,
      socketHolderPid: proc.pid,
      serverProcesses: [{ name: 'bare', pid: proc.pid }],
      accessTokens: async () => () => '',
      logLines: () => proc.logLines(),
      metrics: async () => undefined,
      died,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
