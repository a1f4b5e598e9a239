/** Process-tree helpers for tests that run `tickgate start` (whose children lead their own groups). */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';

function table(): { pid: number; ppid: number; pgid: number; args: string }[] {
  const out = execFileSync('ps', ['-e', '-o', 'pid=,ppid=,pgid=,args='], { encoding: 'utf8' });
  return out.trim().split('\n').map((l) => {
    const m = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(.*)$/.exec(l)!;
    return { pid: Number(m[1]), ppid: Number(m[2]), pgid: Number(m[3]), args: m[4]! };
  });
}

/** Every live descendant of `root` (children, grandchildren, …), with its command line. */
export function descendants(root: number): { pid: number; pgid: number; args: string }[] {
  const rows = table();
  const found: { pid: number; pgid: number; args: string }[] = [];
  const frontier = [root];
  while (frontier.length > 0) {
    const p = frontier.pop()!;
    for (const r of rows) if (r.ppid === p) (found.push(r), frontier.push(r.pid));
  }
  return found;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** pids of every live process in a process group. */
export function groupMembers(pgid: number): number[] {
  return table().filter((r) => r.pgid === pgid).map((r) => r.pid);
}

export interface StartProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  /** Kills the supervisor and every process it ever started that is still alive. */
  killAll(): void;
}

/** `tickgate start` as its own process (and group), its output collected. */
export function spawnStart(env: NodeJS.ProcessEnv): StartProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'start'], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b) => (out += b));
  child.stderr!.on('data', (b) => (out += b));
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  // pid → command line: a pid is killed at the end only if it still runs the same command (no
  // stranger that reused the pid).
  const seen = new Map<number, string>();
  const record = () => {
    if (child.exitCode === null) for (const d of descendants(child.pid!)) seen.set(d.pid, d.args);
  };
  const track = setInterval(record, 250);
  track.unref();
  return {
    child,
    output: () => out,
    exited,
    killAll() {
      clearInterval(track);
      record();
      const now = new Map(table().map((r) => [r.pid, r.args]));
      if (child.exitCode === null) child.kill('SIGKILL');
      for (const [pid, args] of seen) {
        if (now.get(pid) !== args) continue;
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    },
  };
}
