/**
 * One child of `tickgate start`, kept running: when it dies on its own it is started again after
 * a backoff delay, and every restart is reported with its reason and delay. A child stopped on
 * purpose (`stop()`) is not restarted. Children run in their own process group (`detached`), so a
 * Ctrl-C at the terminal reaches only the supervisor, which then stops them in order.
 */
import type { ChildProcess } from 'node:child_process';
import { Backoff, type BackoffOptions } from './backoff.ts';

export interface ChildSpec {
  name: string;
  /** Starts the process; resolves once it is running (a rejection counts as a crash). */
  start(): Promise<ChildProcess>;
  /** How long a SIGTERM may take before the group is killed. */
  stopTimeoutMs: number;
}

export interface RestartReport {
  name: string;
  reason: string;
  restarts: number;
  delayMs: number;
}

export function isRunning(proc: ChildProcess): boolean {
  return proc.exitCode === null && proc.signalCode === null;
}

function exitReason(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `killed by ${signal}` : `exit code ${code}`;
}

/** Signals the child's whole process group (it leads one: spawned `detached`). */
export function signalGroup(proc: ChildProcess, sig: NodeJS.Signals): void {
  try {
    process.kill(-proc.pid!, sig);
  } catch {
    // The group is already gone.
  }
}

export class SupervisedChild {
  proc: ChildProcess | undefined;
  restarts = 0;
  private startedAt = 0;
  private stopping = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  private exited: Promise<void> = Promise.resolve();
  /** A restart in progress: `stop()` waits for it so the new process is stopped like any other. */
  private pending: Promise<void> | undefined;

  constructor(
    readonly spec: ChildSpec,
    private readonly onRestart: (r: RestartReport) => void,
    backoff?: BackoffOptions,
  ) {
    this.backoff = new Backoff(backoff);
  }

  get name(): string {
    return this.spec.name;
  }

  /** The first start: its failure is the caller's (start-up fails as a whole). */
  async start(): Promise<void> {
    this.watch(await this.spec.start());
  }

  private watch(proc: ChildProcess): void {
    this.proc = proc;
    this.startedAt = Date.now();
    this.exited = new Promise((resolve) => {
      if (!isRunning(proc)) return resolve();
      proc.once('exit', () => resolve());
    });
    void this.exited.then(() => {
      if (this.proc === proc) this.died(exitReason(proc.exitCode, proc.signalCode));
    });
  }

  private died(reason: string): void {
    if (this.stopping) return;
    const delayMs = this.backoff.next(Date.now() - this.startedAt);
    this.restarts++;
    this.onRestart({ name: this.name, reason, restarts: this.restarts, delayMs });
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.stopping) return;
      this.startedAt = Date.now();
      this.pending = this.spec.start().then(
        (proc) => this.watch(proc),
        (err: unknown) => this.died(`failed to start: ${(err as Error).message.split('\n')[0]}`),
      );
    }, delayMs);
  }

  /** SIGTERM to its group, SIGKILL after `stopTimeoutMs`; never restarted afterwards. */
  async stop(say: (line: string) => void): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.pending;
    const proc = this.proc;
    if (!proc || !isRunning(proc)) return;
    signalGroup(proc, 'SIGTERM');
    const t = setTimeout(() => {
      say(`${this.name} did not stop within ${this.spec.stopTimeoutMs} ms; killing it`);
      signalGroup(proc, 'SIGKILL');
    }, this.spec.stopTimeoutMs);
    await this.exited;
    clearTimeout(t);
  }
}
