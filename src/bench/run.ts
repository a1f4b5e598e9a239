/**
 * A bench run: the chosen scenarios one after another, each in a temp directory of its own (its
 * Redis data), a failed one recorded while the rest still run; then the JSON report.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { localDate, machineInfo, writeJson, type BenchReport, type ScenarioFailure, type ScenarioReport } from './report.ts';
import type { ScenarioContext, ScenarioDef } from './scenarios.ts';

export interface BenchOptions extends Omit<ScenarioContext, 'earlier' | 'dir' | 'say'> {
  scenarios: readonly ScenarioDef[];
  /** Where `<date>.json` goes. */
  outDir: string;
  /** Progress lines (default: none). */
  progress?: (line: string) => void;
}

/** Runs the scenarios and writes the report. An abort stops at once and writes nothing. */
export async function runBench(opts: BenchOptions): Promise<{ report: BenchReport; file: string }> {
  const startedAt = new Date();
  const machine = machineInfo();
  const results: ScenarioReport[] = [];
  const failures: ScenarioFailure[] = [];
  const earlier = new Map<string, ScenarioReport>();
  for (const s of opts.scenarios) {
    opts.signal.throwIfAborted();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickgate-bench-'));
    const say = (line: string) => opts.progress?.(`${s.name}: ${line}`);
    try {
      const r = await s.run({ ...opts, earlier, dir, say });
      results.push(r);
      earlier.set(s.name, r);
      for (const n of r.notes) say(n);
    } catch (err) {
      if (opts.signal.aborted) throw err;
      failures.push({ name: s.name, error: (err as Error).message ?? String(err) });
      say(`FAILED: ${(err as Error).message}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const report: BenchReport = {
    date: localDate(startedAt),
    startedAt: startedAt.toISOString(),
    machine,
    settings: {
      quick: opts.quick, durationS: opts.durationS, warmupS: opts.warmupS, clientProcesses: opts.clientProcesses,
      targets: opts.targets, rate: opts.rate ?? null, connections: opts.connections ?? null, rampRates: opts.rampRates ?? null,
    },
    scenarios: results,
    failures,
  };
  return { report, file: writeJson(opts.outDir, `${report.date}.json`, report) };
}
