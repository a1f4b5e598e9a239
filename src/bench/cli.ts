/**
 * `tickgate bench [options]` (`npm run bench`): runs the scenarios, prints the table, writes
 * `bench/results/<date>.json`. Exit status: 0 every scenario ran, 1 one or more failed, 2 usage
 * error or missing prerequisite, 130 interrupted (everything started is stopped first).
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCommandLine } from '../cli/command-line.ts';
import { redisServerAvailable, RedisNotInstalledError } from '../start/embedded-redis.ts';
import { procStatsAvailable } from './proc-stats.ts';
import { formatTable } from './report.ts';
import { runBench } from './run.ts';
import { SCENARIOS, scenarioNames } from './scenarios.ts';
import { TARGET_KINDS, type TargetKind } from './targets.ts';

export const DEFAULT_OUT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results');

export const BENCH_USAGE = `usage: tickgate bench [options]

Runs each scenario against a bare uWebSockets.js server and then tickgate (redis-server, ingester,
gateway as child processes), on the same feed, on 127.0.0.1, with the clients in several child
processes; prints a table and writes the same data as JSON to bench/results/<YYYY-MM-DD>.json.

scenarios:
${SCENARIOS.map((s) => `  ${s.name.padEnd(12)} ${s.about}`).join('\n')}

options:
  --quick            small sizes and 2 s windows: a smoke run of every scenario
  --only A,B         run only these scenarios
  --duration S       measurement window in seconds (default 10; --quick: 2)
  --warmup S         extra warm-up after every token ticks, in seconds (default 2; --quick: 0.5)
  --connections N    sockets in every scenario (default: each scenario's own)
  --rate N           offered ticks/s of fanout and stalled (default 10000, and half the ramp's knee)
  --ramp A,B,…       the ramp's rates in ticks/s (default 2000,5000,10000,15000,20000,30000)
  --clients N        client processes (default: 2, or the CPU count if higher)
  --no-baseline      measure tickgate only (no ratios)
  --out DIR          where the JSON goes (default bench/results)

exit status: 0 ok, 1 a scenario failed, 2 usage error, 130 interrupted`;

export interface BenchArgs {
  quick: boolean;
  only: string[] | undefined;
  durationS: number;
  warmupS: number;
  connections?: number;
  rate?: number;
  rampRates?: number[];
  clientProcesses: number;
  targets: TargetKind[];
  outDir: string;
}

export type ParsedBenchArgs = { ok: true; value: BenchArgs } | { ok: false; error: string } | { ok: 'help' };

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  quick: { type: 'boolean' },
  only: { type: 'string' },
  duration: { type: 'string' },
  warmup: { type: 'string' },
  connections: { type: 'string' },
  rate: { type: 'string' },
  ramp: { type: 'string' },
  clients: { type: 'string' },
  'no-baseline': { type: 'boolean' },
  out: { type: 'string' },
} as const;

/** A number option's value, or the one-line problem with it. */
export function readNumber(name: string, raw: string, min: number, max: number, integer: boolean): number | string {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    return `${name} needs ${integer ? 'an integer' : 'a number'} in ${min}..${max}, got "${raw}"`;
  }
  return n;
}

export function parseBenchArgs(argv: readonly string[]): ParsedBenchArgs {
  const cl = parseCommandLine(argv, OPTIONS);
  if (!cl.ok) return cl;
  const { values, positionals } = cl;
  if (values.help) return { ok: 'help' };
  if (positionals.length > 0) return { ok: false, error: `unknown argument "${positionals[0]}"` };
  const quick = values.quick === true;
  let only: string[] | undefined;
  if (values.only !== undefined) {
    only = values.only.split(',').map((s) => s.trim()).filter(Boolean);
    const unknown = only.filter((n) => !scenarioNames().includes(n));
    if (only.length === 0 || unknown.length > 0) {
      return { ok: false, error: `--only needs scenario names (${scenarioNames().join(', ')}), got "${values.only}"` };
    }
  }
  const numbers = {
    durationS: values.duration === undefined ? undefined : readNumber('--duration', values.duration, 0.5, 600, false),
    warmupS: values.warmup === undefined ? undefined : readNumber('--warmup', values.warmup, 0, 600, false),
    connections: values.connections === undefined ? undefined : readNumber('--connections', values.connections, 1, 50_000, true),
    rate: values.rate === undefined ? undefined : readNumber('--rate', values.rate, 1, 1_000_000, true),
    clients: values.clients === undefined ? undefined : readNumber('--clients', values.clients, 1, 64, true),
  };
  for (const v of Object.values(numbers)) if (typeof v === 'string') return { ok: false, error: v };
  const n = numbers as { [K in keyof typeof numbers]: number | undefined };
  let rampRates: number[] | undefined;
  if (values.ramp !== undefined) {
    const parts = values.ramp.split(',').map((p) => readNumber('--ramp', p.trim(), 1, 1_000_000, true));
    const bad = parts.find((p) => typeof p === 'string');
    if (bad !== undefined || parts.length === 0) return { ok: false, error: (bad as string | undefined) ?? '--ramp needs rates' };
    rampRates = parts as number[];
    if (rampRates.some((r, i) => i > 0 && r <= rampRates![i - 1]!)) return { ok: false, error: `--ramp needs rising rates, got "${values.ramp}"` };
  }
  if (values.out === '') return { ok: false, error: '--out needs a directory' };
  return {
    ok: true,
    value: {
      quick, only,
      durationS: n.durationS ?? (quick ? 2 : 10),
      warmupS: n.warmupS ?? (quick ? 0.5 : 2),
      ...(n.connections !== undefined ? { connections: n.connections } : {}),
      ...(n.rate !== undefined ? { rate: n.rate } : {}),
      ...(rampRates !== undefined ? { rampRates } : {}),
      clientProcesses: n.clients ?? Math.max(2, os.availableParallelism()),
      targets: values['no-baseline'] ? ['tickgate'] : [...TARGET_KINDS],
      outDir: values.out === undefined ? DEFAULT_OUT_DIR : path.resolve(values.out),
    },
  };
}

export async function runBenchCli(argv: readonly string[]): Promise<number> {
  const parsed = parseBenchArgs(argv);
  if (parsed.ok === 'help') {
    console.log(BENCH_USAGE);
    return 0;
  }
  if (!parsed.ok) {
    console.error(`tickgate bench: ${parsed.error}\n\n${BENCH_USAGE}`);
    return 2;
  }
  if (!procStatsAvailable()) {
    console.error('tickgate bench: needs Linux /proc to read the server processes\' CPU time and memory');
    return 2;
  }
  if (!redisServerAvailable()) {
    console.error(`tickgate bench: ${new RedisNotInstalledError().message}`);
    return 2;
  }
  const { only, outDir, ...args } = parsed.value;
  const interrupted = new AbortController();
  const onSignal = () => interrupted.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const { report, file } = await runBench({
      ...args, outDir,
      scenarios: SCENARIOS.filter((s) => !only || only.includes(s.name)),
      signal: interrupted.signal,
      progress: (line) => process.stderr.write(`[bench] ${line}\n`),
    });
    console.log(`\n${formatTable(report)}\n\nwrote ${file}`);
    return report.failures.length > 0 ? 1 : 0;
  } catch (err) {
    if (interrupted.signal.aborted) {
      console.error('tickgate bench: interrupted; everything it started is stopped');
      return 130;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
