/**
 * The benchmark scenarios, in the order a full run takes them. The ramp runs before the stalled
 * readers, which run at half the knee it found. Every scenario measures the bare uWebSockets.js
 * baseline and then tickgate on the same feed (see scenario-kit.ts), unless told otherwise.
 */
import type { ScenarioDef } from './scenario-kit.ts';
import { fanoutRamp, fanoutSteady } from './scenario-fanout.ts';
import { idle, storm } from './scenario-sockets.ts';
import { stalled } from './scenario-stalled.ts';
import { ingestOnly } from './scenario-ingest.ts';

export type { ScenarioContext, ScenarioDef } from './scenario-kit.ts';

export const SCENARIOS: readonly ScenarioDef[] = [
  fanoutRamp,
  fanoutSteady,
  idle,
  storm,
  stalled,
  ingestOnly,
];

export function scenarioNames(): string[] {
  return SCENARIOS.map((s) => s.name);
}
