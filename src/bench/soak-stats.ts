/**
 * The soak's verdict, kept pure so it can be tested: how much a sampled series (RSS, sockets,
 * Redis memory, …) drifted over the run once warm-up is left out. Two measures, because each
 * fails differently: a least-squares line over the kept samples (robust to noise, fooled by a
 * single step late in the run) and the mean of the last window against the first (simple, noisy).
 */
export interface Point {
  /** Seconds since the soak started. */
  t: number;
  v: number;
}

export interface Drift {
  /** Samples kept after the warm-up cut, and the time span they cover (s). */
  samples: number;
  spanS: number;
  /** Mean of the kept samples. */
  mean: number;
  /** Fitted change over the kept span, as % of the mean (null when the mean is 0 or < 2 samples). */
  fitPct: number | null;
  /** Slope of the fit, per minute, in the series' own unit. */
  perMinute: number | null;
  /** Mean of the last window ÷ mean of the first window − 1, in % (null when the first is 0). */
  windowPct: number | null;
}

/** Least-squares slope of v over t; 0 with fewer than two distinct times. */
export function slope(points: readonly Point[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mt = points.reduce((s, p) => s + p.t, 0) / n;
  const mv = points.reduce((s, p) => s + p.v, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.v - mv);
    den += (p.t - mt) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

const mean = (ps: readonly Point[]) => (ps.length === 0 ? 0 : ps.reduce((s, p) => s + p.v, 0) / ps.length);
const round = (n: number) => Math.round(n * 100) / 100;

/**
 * Drift of a series sampled over `[0, durationS]`: samples in the first `warmupFraction` of the
 * time are dropped; of the rest, `windowFraction` at each end forms the first and last windows
 * (at least one sample each).
 */
export function drift(points: readonly Point[], durationS: number, warmupFraction = 0.2, windowFraction = 0.2): Drift {
  const kept = points.filter((p) => p.t >= durationS * warmupFraction);
  const spanS = kept.length < 2 ? 0 : kept[kept.length - 1]!.t - kept[0]!.t;
  const m = mean(kept);
  const w = Math.max(1, Math.round(kept.length * windowFraction));
  const first = mean(kept.slice(0, w));
  const last = mean(kept.slice(-w));
  const b = slope(kept);
  return {
    samples: kept.length,
    spanS: round(spanS),
    mean: round(m),
    fitPct: kept.length < 2 || m === 0 ? null : round(((b * spanS) / m) * 100),
    perMinute: kept.length < 2 ? null : round(b * 60),
    windowPct: kept.length === 0 || first === 0 ? null : round((last / first - 1) * 100),
  };
}
