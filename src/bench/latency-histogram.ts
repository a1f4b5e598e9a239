/**
 * End-to-end latencies in whole milliseconds (the resolution of the tick's `ts`), one counter per
 * millisecond. Recording is an array increment, so every tick can be recorded, and percentiles are
 * exact at that resolution. Client processes send their histograms to the bench as a sparse
 * snapshot, and the bench merges them, so percentiles over all processes stay exact.
 */
const MAX_TRACKED_MS = 120_000;

export interface LatencySummary {
  samples: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/** A histogram as plain data (structured-clone and JSON safe): `[ms, count]` pairs for non-empty buckets. */
export interface HistogramSnapshot {
  buckets: Array<[number, number]>;
  n: number;
  sum: number;
  max: number;
}

export class LatencyHistogram {
  private counts = new Float64Array(MAX_TRACKED_MS + 1);
  private n = 0;
  private sum = 0;
  private maxMs = 0;

  /** Negative values (a wall-clock step between publish and receipt) count as 0. */
  record(ms: number): void {
    const v = ms < 0 ? 0 : ms;
    this.counts[v > MAX_TRACKED_MS ? MAX_TRACKED_MS : v]!++;
    this.n++;
    this.sum += v;
    if (v > this.maxMs) this.maxMs = v;
  }

  reset(): void {
    this.counts.fill(0);
    this.n = 0;
    this.sum = 0;
    this.maxMs = 0;
  }

  get samples(): number {
    return this.n;
  }

  snapshot(): HistogramSnapshot {
    const buckets: Array<[number, number]> = [];
    if (this.n > 0) for (let ms = 0; ms <= MAX_TRACKED_MS; ms++) if (this.counts[ms]! > 0) buckets.push([ms, this.counts[ms]!]);
    return { buckets, n: this.n, sum: this.sum, max: this.maxMs };
  }

  /** Adds another histogram's samples to this one, as if they had been recorded here. */
  merge(s: HistogramSnapshot): void {
    for (const [ms, count] of s.buckets) this.counts[Math.min(Math.max(0, ms), MAX_TRACKED_MS)]! += count;
    this.n += s.n;
    this.sum += s.sum;
    if (s.max > this.maxMs) this.maxMs = s.max;
  }

  static fromSnapshots(snapshots: readonly HistogramSnapshot[]): LatencyHistogram {
    const h = new LatencyHistogram();
    for (const s of snapshots) h.merge(s);
    return h;
  }

  /** The smallest latency that at least `q` of the samples do not exceed (0 with no samples). */
  percentile(q: number): number {
    if (this.n === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.n));
    let seen = 0;
    for (let ms = 0; ms <= MAX_TRACKED_MS; ms++) {
      seen += this.counts[ms]!;
      if (seen >= rank) return Math.min(ms, this.maxMs);
    }
    return this.maxMs;
  }

  summary(): LatencySummary {
    return {
      samples: this.n,
      p50: this.percentile(0.5),
      p99: this.percentile(0.99),
      max: this.maxMs,
      mean: this.n === 0 ? 0 : Math.round((this.sum / this.n) * 100) / 100,
    };
  }
}
