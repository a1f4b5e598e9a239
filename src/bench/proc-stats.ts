/**
 * CPU time and resident memory of other processes, read from Linux /proc. The bench measures the
 * server processes (ingester, gateway) from outside, so the clients' own work is never counted.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

let cachedClockTicks: number | undefined;

/** Kernel clock ticks per second, the unit of utime/stime in /proc/<pid>/stat (almost always 100). */
function clockTicksPerS(): number {
  if (cachedClockTicks === undefined) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const n = Number(r.stdout?.trim());
    cachedClockTicks = Number.isInteger(n) && n > 0 ? n : 100;
  }
  return cachedClockTicks;
}

export function procStatsAvailable(): boolean {
  return fs.existsSync(`/proc/${process.pid}/stat`);
}

/**
 * User + system CPU seconds a process has used so far, all its threads included. The command name
 * (field 2) may contain spaces and parentheses, so fields are counted from the last ')'.
 */
export function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command: state is field 3, so utime (field 14) and stime (field 15) are at 11 and 12.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`unreadable /proc/${pid}/stat`);
  return (utime + stime) / clockTicksPerS();
}

/** Resident set size in KiB (VmRSS of /proc/<pid>/status). */
export function rssKiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}
