/**
 * The fan-out ramp's verdict, kept pure so it can be tested: a step passes while the server keeps
 * up (at least `minDeliveryRatio` of the called-for ticks arrive) with a tail under `maxP99Ms`.
 * The ramp stops at the first failing step; the knee is the highest rate of the passing steps
 * before it.
 */
export interface RampLimits {
  maxP99Ms: number;
  minDeliveryRatio: number;
}

export const DEFAULT_RAMP_LIMITS: RampLimits = { maxP99Ms: 100, minDeliveryRatio: 0.99 };

export interface RampStep {
  rate: number;
  p99Ms: number;
  deliveryRatio: number;
}

export function stepPasses(step: RampStep, limits: RampLimits = DEFAULT_RAMP_LIMITS): boolean {
  return step.p99Ms <= limits.maxP99Ms && step.deliveryRatio >= limits.minDeliveryRatio;
}

/** Whether to try the next rate: no step yet, or the last one passed. */
export function rampContinues(steps: readonly RampStep[], limits: RampLimits = DEFAULT_RAMP_LIMITS): boolean {
  return steps.length === 0 || stepPasses(steps[steps.length - 1]!, limits);
}

export interface RampVerdict {
  /** The highest rate passed before the first failure; null when the first step failed. */
  knee: number | null;
  /** The first rate that failed; null when every step passed (the knee is above the last rate). */
  failedAt: number | null;
  /** Why it failed: which limit(s) it broke. */
  reason: string | null;
}

export function rampKnee(steps: readonly RampStep[], limits: RampLimits = DEFAULT_RAMP_LIMITS): RampVerdict {
  let knee: number | null = null;
  for (const s of steps) {
    if (!stepPasses(s, limits)) {
      const why: string[] = [];
      if (s.p99Ms > limits.maxP99Ms) why.push(`p99 ${s.p99Ms} ms > ${limits.maxP99Ms} ms`);
      if (s.deliveryRatio < limits.minDeliveryRatio) why.push(`delivered ${(s.deliveryRatio * 100).toFixed(1)}% < ${(limits.minDeliveryRatio * 100).toFixed(0)}%`);
      return { knee, failedAt: s.rate, reason: why.join(', ') };
    }
    knee = s.rate;
  }
  return { knee, failedAt: null, reason: null };
}
