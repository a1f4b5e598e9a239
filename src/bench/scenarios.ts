/**
 * The benchmark scenarios, in the order a full run takes them. The ramp runs before the stalled
 * readers, which run at half the knee it found. Every scenario measures the bare uWebSockets.js
 * baseline and then tickgate on the same feed (see scenario-kit.ts), unless told otherwise.
 */
import type { ScenarioDef } from './scenario-kit.ts';
import { fanoutRamp, fanoutSteady } from './scenario-fanout.ts';
import { idle, storm } from './scenario-sockets.ts';
import { stalled } from './scenario-stalled.ts';

export type { ScenarioContext, ScenarioDef } from './scenario-kit.ts';

export const SCENARIOS: readonly ScenarioDef[] = [
  fanoutRamp,
  fanoutSteady,
  idle,
  storm,
  stalled,
  // ── MERGE POINT: ingest-only ──────────────────────────────────────────────────────────────────
  // `src/bench/ingest-only.ts` comes from another branch and is not in this one. It exports
  //   runIngestOnly(opts: { rates?: number[]; durationS?: number; quick?: boolean }): Promise<IngestOnlyResult>
  // Wire it in here as one more ScenarioDef, e.g.:
  //   {
  //     name: 'ingest-only',
  //     about: 'the ingester alone: feed → validate → seq → history → XPUB, no sockets',
  //     run: async (ctx) => ({
  //       name: 'ingest-only', about: '…', measurements: [], notes: [],
  //       summary: { ...(await runIngestOnly({ durationS: ctx.durationS, quick: ctx.quick })) },
  //     }),
  //   },
  // (with `import { runIngestOnly } from './ingest-only.ts';` above). `--only ingest-only` and
  // the JSON report then pick it up with no other change; its figures land in `summary`.
  // ──────────────────────────────────────────────────────────────────────────────────────────────
];

export function scenarioNames(): string[] {
  return SCENARIOS.map((s) => s.name);
}
