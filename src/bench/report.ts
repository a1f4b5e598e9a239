/**
 * What a bench run produces — one result per scenario, plus the machine it ran on — and the two
 * ways it is shown: a table for people and a JSON file for comparison across runs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Scenario } from './scenarios.ts';

/** Above this event-loop utilisation the client process, not the server, may be the limit. */
export const CLIENT_SATURATED_ELU = 0.9;

/** The scenario as it ran (its shape, without the target rate, reported below) and what it measured. */
export interface ScenarioResult extends Omit<Scenario, 'ratePerSec'> {
  /** Length of the measurement window, seconds. */
  windowS: number;
  /** The target rate of the feed publisher. */
  offeredTicksPerSec: number;
  /** What it actually published during the window. */
  publishedTicksPerSec: number;
  /** Every message the clients received in the window (ticks, snapshots, status, …), per second. */
  deliveredMsgsPerSec: number;
  /** Live ticks received ÷ live ticks the published ones called for (1 = the server kept up). */
  deliveryRatio: number;
  /** Feed publish → client receipt, whole milliseconds, over every live tick of the window. */
  latencyMs: { p50: number; p99: number; max: number; mean: number; samples: number };
  serverCpu: {
    ingesterS: number;
    gatewayS: number;
    /** Cores in use on average during the window. */
    ingesterCores: number;
    gatewayCores: number;
  };
  /** (ingester + gateway CPU seconds) ÷ (delivered messages ÷ 1e6); null with nothing delivered. */
  serverCpuSecPerMillionMsgs: number | null;
  gatewayRssKiB: { before: number; after: number };
  /** (gateway RSS with every socket open and subscribed − before any) ÷ connections. */
  rssPerConnectionKiB: number;
  /** The bench process itself: clients and feed publisher. */
  client: { cpuS: number; cores: number; eventLoopUtilization: number; saturated: boolean };
  /** Sockets the server closed during the window, by close code (expected: none). */
  closes: Record<string, number>;
  /** Sockets still open when the window ended (expected: all). */
  openAtEnd: number;
  /** Fresh sockets the server dropped before their subscribe ack, reopened by the bench (expected: none). */
  reconnects: number;
  /** Server messages other than ticks over the whole scenario, by type (welcome, subscribed, status, …). */
  nonTickMessages: Record<string, number>;
  /** Server log lines at LOG_LEVEL=warn over the whole scenario (expected: none). */
  serverLogLines: { ingester: number; gateway: number };
}

export interface ScenarioFailure { name: string; error: string }

export interface BenchReport {
  date: string;
  startedAt: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; platform: string };
  settings: { durationS: number; warmupS: number; quick: boolean };
  scenarios: ScenarioResult[];
  failures: ScenarioFailure[];
}

export function machineInfo(): BenchReport['machine'] {
  const cpus = os.cpus();
  return {
    cpus: os.availableParallelism(),
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
}

/** The local date as YYYY-MM-DD: the results file's name. */
export function localDate(d = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** Writes `<dir>/<date>.json` (creating `dir`); returns its path. A run on the same day replaces it. */
export function writeReport(dir: string, report: BenchReport): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${report.date}.json`);
  fs.writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  return file;
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const fixed = (n: number, digits: number) => n.toFixed(digits);

export function formatTable(report: BenchReport): string {
  const header = [
    'scenario', 'conns', 'tokens', 'mode', 'offered ticks/s', 'delivered msg/s', 'kept up',
    'p50 ms', 'p99 ms', 'max ms', 'server CPU s/M msg', 'RSS/conn KiB', 'client ELU',
  ];
  const rows = report.scenarios.map((r) => [
    r.name,
    int(r.connections),
    `${r.tokens} (${r.tokensPerConnection}/conn)`,
    r.mode,
    `${int(r.publishedTicksPerSec)} of ${int(r.offeredTicksPerSec)}`,
    int(r.deliveredMsgsPerSec),
    `${fixed(r.deliveryRatio * 100, 1)}%`,
    String(r.latencyMs.p50),
    String(r.latencyMs.p99),
    String(r.latencyMs.max),
    r.serverCpuSecPerMillionMsgs === null ? '-' : fixed(r.serverCpuSecPerMillionMsgs, 2),
    fixed(r.rssPerConnectionKiB, 1),
    `${fixed(r.client.eventLoopUtilization * 100, 0)}%${r.client.saturated ? ' (!)' : ''}`,
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const line = (cells: string[]) => cells.map((cell, c) => (c === 0 || c === 3 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];

  const m = report.machine;
  out.push('', `${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}; ` +
    `${report.settings.durationS} s measured per scenario after ${report.settings.warmupS} s warm-up${report.settings.quick ? ' (--quick)' : ''}`);
  for (const r of report.scenarios) {
    const notes: string[] = [];
    notes.push(`server CPU ${fixed(r.serverCpu.gatewayCores * 100, 0)}% gateway + ${fixed(r.serverCpu.ingesterCores * 100, 0)}% ingester of one core`);
    if (r.client.saturated) notes.push(`client process saturated (event loop ${fixed(r.client.eventLoopUtilization * 100, 0)}% busy): latency and throughput include client queueing`);
    if (r.openAtEnd < r.connections) notes.push(`only ${r.openAtEnd} of ${r.connections} sockets still open at the end`);
    if (r.reconnects > 0) notes.push(`${r.reconnects} fresh socket${r.reconnects === 1 ? ' was' : 's were'} dropped by the server before the subscribe ack and reopened`);
    const closed = Object.entries(r.closes);
    if (closed.length > 0) notes.push(`server closed sockets: ${closed.map(([code, n]) => `${n}× ${code}`).join(', ')}`);
    const logs = r.serverLogLines.gateway + r.serverLogLines.ingester;
    if (logs > 0) notes.push(`${logs} server warning/error log lines`);
    out.push(`  ${r.name}: ${notes.join('; ')}`);
  }
  for (const f of report.failures) out.push(`  ${f.name}: FAILED: ${f.error}`);
  return out.join('\n');
}
