export interface Summary {
  count: number;
  mean: number;
  std: number;
  min: number;
  max: number;
  /** 99th percentile: the boundary of the worst 1 %. */
  p99: number;
  /** Mean of the values at or above p99 (the worst 1 %). */
  worst1PercentMean: number;
}

export function summarise(values: ArrayLike<number>): Summary {
  const n = values.length;
  if (n === 0) return { count: 0, mean: NaN, std: NaN, min: NaN, max: NaN, p99: NaN, worst1PercentMean: NaN };
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i]!;
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i]! - mean) ** 2;
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  const worstCount = Math.max(1, Math.ceil(n * 0.01));
  let worstSum = 0;
  for (let i = n - worstCount; i < n; i++) worstSum += sorted[i]!;
  return {
    count: n,
    mean,
    std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0,
    min: sorted[0]!,
    max: sorted[n - 1]!,
    p99: sorted[Math.min(n - 1, Math.floor(0.99 * (n - 1)))]!,
    worst1PercentMean: worstSum / worstCount,
  };
}
