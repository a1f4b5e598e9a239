/**
 * What a bench run produces — per scenario, one measurement per (server, step) plus the
 * scenario's own summary — and the two ways it is shown: a table for people and a JSON file for
 * comparison across runs. Ratios put tickgate next to the bare uWebSockets.js baseline measured on
 * the same feed in the same run.
 */
import type { Mode } from '../protocol/tick.ts';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LatencySummary } from './latency-histogram.ts';
import type { TargetKind } from './targets.ts';

/** One measurement window against one server. */
export interface Measurement {
  target: TargetKind;
  /** The step within the scenario: an offered rate, `idle`, `no stall`, `5% stalled`, … */
  label: string;
  /** Sockets whose deliveries are counted (stalled ones excluded). */
  connections: number;
  tokens: number;
  tokensPerConnection: number;
  mode: Mode;
  windowS: number;
  offeredTicksPerSec: number;
  /** What the feed actually published during the window. */
  publishedTicksPerSec: number;
  /** Every message the counted sockets received in the window (ticks, snapshots, status, …), per second. */
  deliveredMsgsPerSec: number;
  /** Live ticks received ÷ live ticks the published ones called for (1 = the server kept up). */
  deliveryRatio: number;
  /** Feed publish → client receipt, whole milliseconds, over every live tick of the window. */
  latencyMs: LatencySummary;
  /** CPU seconds in the window per server process (gateway, ingester, redis; or bare). */
  serverCpuS: Record<string, number>;
  /** All server processes together, in cores (CPU seconds ÷ window). */
  serverCores: number;
  /** The busiest single server process, in cores. */
  busiestServerCores: number;
  /** Server CPU seconds ÷ (delivered messages ÷ 1e6); null with nothing delivered. */
  serverCpuSecPerMillionMsgs: number | null;
  /** RSS of the process holding the sockets at the end of the window, KiB. */
  serverRssKiB: number;
  /** (its RSS with every socket open and subscribed − before any) ÷ sockets; null when not taken. */
  rssPerConnectionKiB: number | null;
  /** Each client process's CPU in the window, in cores. */
  clientCores: number[];
  /** The bench process itself (feed publisher), in cores. */
  feedCores: number;
  /** Some client process was busier than the busiest server process: the clients may be the limit. */
  clientBusierThanServer: boolean;
  /** Counted sockets the server closed during the window, by close code (expected: none). */
  closes: Record<string, number>;
  /** Lines the server processes logged during the window (tickgate logs warnings and errors only; expected: none). */
  serverLogLines: number;
  /** tickgate ÷ bare at the same step of the same scenario (tickgate rows only). */
  ratios?: Ratios;
}

export interface Ratios {
  delivered: number | null;
  p99: number | null;
  cpuPerMsg: number | null;
}

export interface ScenarioReport {
  name: string;
  about: string;
  measurements: Measurement[];
  /** Scenario-specific figures: the knee, connect times, stalled-reader treatment, RSS per socket. */
  summary: Record<string, unknown>;
  /** Findings printed under the table, one line each. */
  notes: string[];
}

export interface ScenarioFailure { name: string; error: string }

export interface BenchReport {
  date: string;
  startedAt: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; platform: string; loadAverage: number[] };
  settings: Record<string, unknown>;
  scenarios: ScenarioReport[];
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
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

/** The local date as YYYY-MM-DD: the results file's name. */
export function localDate(d = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** Writes `<dir>/<prefix><date>.json` (creating `dir`); returns its path. A run on the same day replaces it. */
export function writeJson(dir: string, name: string, data: unknown): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  fs.writeFileSync(file, JSON.stringify(data, null, 2) + '\n');
  return file;
}

const ratio = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? null : Math.round((a / b) * 100) / 100);

/**
 * Gives every tickgate measurement its ratios to the bare measurement with the same label (the
 * same step of the same scenario); steps only one server reached get none.
 */
export function attachRatios(ms: Measurement[]): void {
  for (const t of ms) {
    if (t.target !== 'tickgate') continue;
    const b = ms.find((m) => m.target === 'bare' && m.label === t.label);
    if (!b) continue;
    t.ratios = {
      delivered: ratio(t.deliveredMsgsPerSec, b.deliveredMsgsPerSec),
      p99: ratio(t.latencyMs.p99, Math.max(1, b.latencyMs.p99)),
      cpuPerMsg: ratio(t.serverCpuSecPerMillionMsgs, b.serverCpuSecPerMillionMsgs),
    };
  }
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const x = (r: number | null | undefined) => (r === null || r === undefined ? '-' : `${r.toFixed(2)}×`);

export function formatTable(report: BenchReport): string {
  const header = [
    'scenario', 'server', 'step', 'conns', 'offered/s', 'delivered/s', 'kept up', 'p50', 'p99', 'max',
    'CPU s/M', 'RSS/conn KiB', 'client cores', 'deliv vs bare', 'p99 vs bare', 'CPU vs bare',
  ];
  const rows = report.scenarios.flatMap((s) => s.measurements.map((m) => [
    s.name, m.target, m.label, int(m.connections), int(m.publishedTicksPerSec), int(m.deliveredMsgsPerSec),
    `${(m.deliveryRatio * 100).toFixed(1)}%`, String(m.latencyMs.p50), String(m.latencyMs.p99), String(m.latencyMs.max),
    m.serverCpuSecPerMillionMsgs === null ? '-' : m.serverCpuSecPerMillionMsgs.toFixed(2),
    m.rssPerConnectionKiB === null ? '-' : m.rssPerConnectionKiB.toFixed(1),
    `${Math.max(...m.clientCores).toFixed(2)}${m.clientBusierThanServer ? ' (!)' : ''}`,
    x(m.ratios?.delivered), x(m.ratios?.p99), x(m.ratios?.cpuPerMsg),
  ]));
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const left = new Set([0, 1, 2]);
  const line = (cells: string[]) => cells.map((cell, c) => (left.has(c) ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];

  const m = report.machine;
  out.push('', `latency in ms, feed publish → client receipt; CPU s/M: server CPU seconds per million delivered messages; ` +
    `vs bare: tickgate ÷ bare uWebSockets.js at the same step`);
  out.push(`${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB, Node ${m.node}, load average at start ${m.loadAverage.join(' ')}`);
  for (const s of report.scenarios) {
    for (const n of s.notes) out.push(`  ${s.name}: ${n}`);
    for (const mm of s.measurements) {
      const closed = Object.entries(mm.closes);
      if (closed.length > 0) out.push(`  ${s.name}: ${mm.target} ${mm.label}: the server closed counted sockets: ${closed.map(([code, n]) => `${n}× ${code}`).join(', ')}`);
      if (mm.serverLogLines > 0) out.push(`  ${s.name}: ${mm.target} ${mm.label}: ${mm.serverLogLines} server log lines during the window`);
    }
    const busy = s.measurements.filter((mm) => mm.clientBusierThanServer);
    if (busy.length > 0) {
      out.push(`  ${s.name}: WARNING (!) a client process was busier than the busiest server process in ${busy.map((mm) => `${mm.target} ${mm.label}`).join(', ')}: the load generator may be the limit there`);
    }
  }
  for (const f of report.failures) out.push(`  ${f.name}: FAILED: ${f.error}`);
  return out.join('\n');
}
