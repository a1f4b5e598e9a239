/**
 * Reading figures out of the Prometheus text that GET /metrics answers (contract §5), for the
 * bench and the soak: the sum of a metric's samples, optionally only those with given labels.
 */

/** Sum of the samples of `name` whose labels include every pair in `labels`; undefined if none. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have: Record<string, string> = {};
    for (const pair of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) have[pair[1]!] = pair[2]!;
    if (!Object.entries(labels).every(([k, v]) => have[k] === v)) continue;
    const v = Number(m[4]);
    if (Number.isFinite(v)) sum = (sum ?? 0) + v;
  }
  return sum;
}

/** Every sample of `name` by the value of its label `label` (e.g. closes by `code`). */
export function metricByLabel(text: string, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const m = /^[^{]+\{([^}]*)\}\s+(\S+)/.exec(line);
    const value = m ? labelValue(m[1]!, label) : undefined;
    const v = Number(m?.[2]);
    if (value !== undefined && Number.isFinite(v)) out[value] = (out[value] ?? 0) + v;
  }
  return out;
}

function labelValue(labels: string, name: string): string | undefined {
  for (const pair of labels.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) if (pair[1] === name) return pair[2];
  return undefined;
}
