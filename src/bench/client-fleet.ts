/**
 * The bench's load generator: several client processes (client-worker.ts, forked with the tsx
 * loader), each holding a contiguous share of the sockets. On a small machine one process of `ws`
 * clients runs out of CPU long before a uWebSockets.js server does; spread over processes the
 * clients can use every core, and each process's CPU is read from /proc to show when they, not
 * the server, were the limit. Window figures come back per process and are merged here
 * (latency histograms exactly, bucket by bucket).
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { ConnectOptions, ConnectOutcome, PoolConnection, WindowCounters } from './clients.ts';
import type { WorkerReply, WorkerRequest } from './client-worker.ts';
import { LatencyHistogram } from './latency-histogram.ts';
import { cpuSeconds } from './proc-stats.ts';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'client-worker.ts');
const TSX_LOADER = import.meta.resolve('tsx');
/** Requests other than `connect` answer at once; a longer silence means the process is stuck. */
const REQUEST_TIMEOUT_MS = 30_000;
const EXIT_TIMEOUT_MS = 5_000;

export interface FleetConnect {
  acked: number;
  failed: number;
  firstError?: string;
  earlyCloses: number;
  /** Per socket, new WebSocket → subscribe ack, merged over processes. */
  connectMs: LatencyHistogram;
  /** From the request to the last process's last ack. */
  elapsedMs: number;
}

export interface FleetWindow {
  messages: number;
  ticks: number;
  snapshots: number;
  closes: Record<string, number>;
  latency: LatencyHistogram;
}

interface Worker {
  child: ChildProcess;
  pending: Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>;
  /** Global socket index of this process's first socket, per connect call, in order. */
  shares: Array<{ global: number; local: number; count: number }>;
  sockets: number;
}

export class ClientFleet {
  private nextId = 1;
  private constructor(private readonly workers: Worker[]) {}

  static async start(processes: number): Promise<ClientFleet> {
    const workers = Array.from({ length: Math.max(1, processes) }, (): Worker => {
      const child = fork(WORKER, [], { execArgv: ['--import', TSX_LOADER], serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const w: Worker = { child, pending: new Map(), shares: [], sockets: 0 };
      child.on('message', (m: WorkerReply) => {
        const p = w.pending.get(m.id);
        if (!p) return;
        w.pending.delete(m.id);
        if (m.ok) p.resolve(m.result);
        else p.reject(new Error(`client process ${child.pid}: ${m.error}`));
      });
      child.once('exit', (code, signal) => {
        for (const p of w.pending.values()) p.reject(new Error(`client process ${child.pid} exited (${signal ?? code})`));
        w.pending.clear();
      });
      return w;
    });
    await Promise.all(workers.map((w) => new Promise<void>((resolve, reject) => {
      w.child.once('spawn', resolve);
      w.child.once('error', reject);
    })));
    return new ClientFleet(workers);
  }

  get pids(): number[] {
    return this.workers.map((w) => w.child.pid!);
  }

  private request<T>(w: Worker, req: WorkerRequest, timeoutMs = REQUEST_TIMEOUT_MS): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        w.pending.delete(id);
        reject(new Error(`client process ${w.child.pid}: no answer to ${req.cmd} within ${timeoutMs} ms`));
      }, timeoutMs);
      w.pending.set(id, {
        resolve: (v) => { clearTimeout(timer); resolve(v as T); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      if (!w.child.connected) {
        w.pending.delete(id);
        clearTimeout(timer);
        reject(new Error(`client process ${w.child.pid} is gone`));
        return;
      }
      w.child.send({ id, req });
    });
  }

  private all<T>(req: WorkerRequest, timeoutMs?: number): Promise<T[]> {
    return Promise.all(this.workers.map((w) => this.request<T>(w, req, timeoutMs)));
  }

  /**
   * Opens `conns` (global indexes continue after the sockets already open), split into equal
   * contiguous shares, all processes at once. Resolves when every process is done, acked or not.
   */
  async connect(conns: readonly PoolConnection[], opts: ConnectOptions): Promise<FleetConnect> {
    const started = performance.now();
    const firstGlobal = this.workers.reduce((n, w) => n + w.sockets, 0);
    const per = Math.ceil(conns.length / this.workers.length);
    const outcomes = await Promise.all(this.workers.map((w, k) => {
      const share = conns.slice(k * per, (k + 1) * per);
      w.shares.push({ global: firstGlobal + k * per, local: w.sockets, count: share.length });
      w.sockets += share.length;
      return share.length === 0 ? undefined : this.request<ConnectOutcome>(w, { cmd: 'connect', conns: share, opts }, opts.timeoutMs * 4 + REQUEST_TIMEOUT_MS);
    }));
    const done = outcomes.filter((o): o is ConnectOutcome => o !== undefined);
    return {
      acked: done.reduce((n, o) => n + o.acked, 0),
      failed: done.reduce((n, o) => n + o.failed, 0),
      firstError: done.find((o) => o.firstError)?.firstError,
      earlyCloses: done.reduce((n, o) => n + o.earlyCloses, 0),
      connectMs: LatencyHistogram.fromSnapshots(done.map((o) => o.connectMs)),
      elapsedMs: Math.round(performance.now() - started),
    };
  }

  async watchTokens(): Promise<void> {
    await this.all({ cmd: 'watch' });
  }

  /** Resolves once every token in `tokens` ticked live on some socket since `watchTokens`. */
  async untilTicking(tokens: readonly number[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      signal?.throwIfAborted();
      const seen = new Set((await this.all<number[]>({ cmd: 'seen' })).flat());
      const missing = tokens.filter((t) => !seen.has(t));
      if (missing.length === 0) return;
      if (Date.now() > deadline) {
        throw new Error(`no live tick within ${timeoutMs} ms for ${missing.length} of ${tokens.length} tokens (e.g. ${missing.slice(0, 5).join(', ')})`);
      }
      await sleep(100, undefined, { signal });
    }
  }

  async startMeasuring(): Promise<void> {
    await this.all({ cmd: 'measure' });
  }

  async stopMeasuring(): Promise<FleetWindow> {
    const parts = await this.all<WindowCounters>({ cmd: 'stop' });
    const closes: Record<string, number> = {};
    for (const p of parts) for (const [code, n] of Object.entries(p.closes)) closes[code] = (closes[code] ?? 0) + n;
    return {
      messages: parts.reduce((n, p) => n + p.messages, 0),
      ticks: parts.reduce((n, p) => n + p.ticks, 0),
      snapshots: parts.reduce((n, p) => n + p.snapshots, 0),
      closes,
      latency: LatencyHistogram.fromSnapshots(parts.map((p) => p.latency)),
    };
  }

  /** Stops reading on these sockets (global indexes); resolves with how many were open and now stall. */
  async stall(globalIndexes: readonly number[]): Promise<number> {
    const counts = await Promise.all(this.workers.map((w) => {
      const local: number[] = [];
      for (const g of globalIndexes) {
        const s = w.shares.find((sh) => g >= sh.global && g < sh.global + sh.count);
        if (s) local.push(s.local + (g - s.global));
      }
      return local.length === 0 ? 0 : this.request<number>(w, { cmd: 'stall', indexes: local });
    }));
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Open sockets now, and every server close so far by code. */
  async state(): Promise<{ open: number; closes: Record<string, number> }> {
    const parts = await this.all<{ open: number; closes: Record<string, number> }>({ cmd: 'state' });
    const closes: Record<string, number> = {};
    for (const p of parts) for (const [code, n] of Object.entries(p.closes)) closes[code] = (closes[code] ?? 0) + n;
    return { open: parts.reduce((n, p) => n + p.open, 0), closes };
  }

  /** CPU seconds used so far by each client process (user + system, from /proc). */
  cpuSeconds(): number[] {
    return this.workers.map((w) => {
      try {
        return cpuSeconds(w.child.pid!);
      } catch {
        return 0;
      }
    });
  }

  /** Drops every socket and ends every process (SIGKILL after a few seconds). Never throws. */
  async stop(): Promise<void> {
    await Promise.all(this.workers.map(async (w) => {
      if (w.child.exitCode !== null || w.child.signalCode !== null) return;
      const exited = new Promise((r) => w.child.once('exit', r));
      await this.request(w, { cmd: 'close' }, 2_000).catch(() => {});
      if (w.child.connected) w.child.disconnect();
      const killer = setTimeout(() => w.child.kill('SIGKILL'), EXIT_TIMEOUT_MS);
      await exited;
      clearTimeout(killer);
    }));
  }
}
