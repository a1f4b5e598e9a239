/**
 * `tickgate bench [options]` (`npm run bench`): runs the scenarios, prints the table, writes
 * `bench/results/<date>.json`. Exit status: 0 every scenario ran, 1 one or more failed, 2 usage
 * error or missing prerequisite, 130 interrupted (everything started is stopped first).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCommandLine } from '../cli/command-line.ts';
import { redisServerAvailable, RedisNotInstalledError } from '../start/embedded-redis.ts';
import { procStatsAvailable } from './proc-stats.ts';
import { formatTable } from './report.ts';
import { runBench } from './run.ts';
import { applyOverrides, SCENARIOS, type ScenarioOverrides } from './scenarios.ts';

const DEFAULT_OUT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results');

export const BENCH_USAGE = `usage: tickgate bench [options]

Runs each scenario against its own redis-server, ingester and gateway (child processes) on
127.0.0.1, prints a table and writes the same data as JSON to bench/results/<YYYY-MM-DD>.json.

scenarios:
${SCENARIOS.map((s) => `  ${s.name.padEnd(12)} ${s.about}`).join('\n')}

options:
  --quick            a fraction of the connections, half the rate, 3 s windows: a smoke run
  --only A,B         run only these scenarios
  --duration S       measurement window per scenario in seconds (default 10; --quick: 3)
  --warmup S         extra warm-up after every token ticks, in seconds (default 2; --quick: 1)
  --connections N    connections in every scenario
  --rate N           offered ticks per second in every scenario
  --out DIR          where the JSON goes (default bench/results)

exit status: 0 ok, 1 a scenario failed, 2 usage error, 130 interrupted`;

export interface BenchArgs {
  quick: boolean;
  only: string[] | undefined;
  durationS: number;
  warmupS: number;
  overrides: ScenarioOverrides;
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
  out: { type: 'string' },
} as const;

/** A number option's value, or the one-line problem with it. */
function readNumber(name: string, raw: string, min: number, max: number, integer: boolean): number | string {
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
    const unknown = only.filter((n) => !SCENARIOS.some((s) => s.name === n));
    if (only.length === 0 || unknown.length > 0) {
      return { ok: false, error: `--only needs scenario names (${SCENARIOS.map((s) => s.name).join(', ')}), got "${values.only}"` };
    }
  }
  const numbers = {
    durationS: values.duration === undefined ? undefined : readNumber('--duration', values.duration, 0.5, 600, false),
    warmupS: values.warmup === undefined ? undefined : readNumber('--warmup', values.warmup, 0, 600, false),
    connections: values.connections === undefined ? undefined : readNumber('--connections', values.connections, 1, 50_000, true),
    ratePerSec: values.rate === undefined ? undefined : readNumber('--rate', values.rate, 1, 1_000_000, true),
  };
  for (const v of Object.values(numbers)) if (typeof v === 'string') return { ok: false, error: v };
  const { durationS, warmupS, connections, ratePerSec } = numbers as { [K in keyof typeof numbers]: number | undefined };
  const overrides: ScenarioOverrides = { quick };
  if (connections !== undefined) overrides.connections = connections;
  if (ratePerSec !== undefined) overrides.ratePerSec = ratePerSec;
  if (values.out === '') return { ok: false, error: '--out needs a directory' };
  const outDir = values.out === undefined ? DEFAULT_OUT_DIR : path.resolve(values.out);
  return {
    ok: true,
    value: { quick, only, durationS: durationS ?? (quick ? 3 : 10), warmupS: warmupS ?? (quick ? 1 : 2), overrides, outDir },
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
  const args = parsed.value;
  const scenarios = SCENARIOS.filter((s) => !args.only || args.only.includes(s.name)).map((s) => applyOverrides(s, args.overrides));

  const interrupted = new AbortController();
  const onSignal = () => interrupted.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const { report, file } = await runBench({
      scenarios, outDir: args.outDir, durationS: args.durationS, warmupS: args.warmupS, quick: args.quick,
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
