/** Small statistics helpers: percentiles over latencies and medians over rounds. */

/** Nearest-rank percentile (p in 0..100) of an ascending-sorted array; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? Number.NaN;
}

/** Median of the values (mean of the middle two for even counts); NaN when empty. */
export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const mid = finite.length >> 1;
  return finite.length % 2 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
}

/** Per-key median over a list of metric records (keys missing from a round are skipped for it). */
export function medianOfRecords(rounds: readonly Record<string, number>[]): Record<string, number> {
  const keys = new Set(rounds.flatMap((r) => Object.keys(r)));
  const out: Record<string, number> = {};
  for (const key of keys) out[key] = median(rounds.map((r) => r[key]).filter((v): v is number => v !== undefined));
  return out;
}

/** Parses a duration with a unit as printed by h2load or wrk ("843us", "6.13ms", "1.2s", "2m") into milliseconds. */
export function toMs(text: string): number {
  const m = /^([\d.]+)(us|µs|ms|s|m)$/.exec(text.trim());
  if (!m) return Number.NaN;
  const value = Number(m[1]);
  switch (m[2]) {
    case "us":
    case "µs":
      return value / 1000;
    case "ms":
      return value;
    case "s":
      return value * 1000;
    default:
      return value * 60_000;
  }
}
