/** Counts of `times` (ms) per bucket of `bucketMs`, from `fromMs` up to the last time. */
export function histogram(times: readonly number[], bucketMs: number, fromMs: number): number[] {
  const buckets: number[] = [];
  for (const t of times) {
    if (t < fromMs) continue;
    const i = Math.floor((t - fromMs) / bucketMs);
    while (buckets.length <= i) buckets.push(0);
    buckets[i] = (buckets[i] ?? 0) + 1;
  }
  return buckets;
}

/** Peak bucket over the mean of the buckets from the first non-empty one to the last. */
export function peakToMean(buckets: readonly number[]): { peak: number; mean: number; ratio: number } {
  const first = buckets.findIndex((n) => n > 0);
  const active = first < 0 ? [] : buckets.slice(first);
  const total = active.reduce((a, b) => a + b, 0);
  const peak = Math.max(0, ...active);
  const mean = active.length ? total / active.length : 0;
  return { peak, mean, ratio: mean ? peak / mean : 0 };
}

/** The smallest gap between consecutive times at or after `fromMs` (Infinity with fewer than two). */
export function minGap(times: readonly number[], fromMs = 0): number {
  const after = times.filter((t) => t >= fromMs);
  let gap = Number.POSITIVE_INFINITY;
  for (let i = 1; i < after.length; i++) gap = Math.min(gap, (after[i] as number) - (after[i - 1] as number));
  return gap;
}

/** The value at quantile q (0..1) of the samples, nearest rank. */
export function quantile(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}

/** One text line per bucket: "  +1.5 s  ████ 42". */
export function renderHistogram(buckets: readonly number[], bucketMs: number): string {
  const peak = Math.max(1, ...buckets);
  return buckets
    .map((n, i) => `  +${((i * bucketMs) / 1000).toFixed(1).padStart(5)} s ${'█'.repeat(Math.round((n / peak) * 40)).padEnd(40)} ${n}`)
    .join('\n');
}
