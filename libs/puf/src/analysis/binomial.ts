/** ln(n choose k) via log-gamma-free summation (exact enough for n <= a few thousand). */
export function logBinomialCoefficient(n: number, k: number): number {
  if (k < 0 || k > n) return -Infinity;
  const kk = Math.min(k, n - k);
  let s = 0;
  for (let i = 1; i <= kk; i++) s += Math.log(n - kk + i) - Math.log(i);
  return s;
}

export function binomialPmf(n: number, p: number, k: number): number {
  if (p <= 0) return k === 0 ? 1 : 0;
  if (p >= 1) return k === n ? 1 : 0;
  return Math.exp(logBinomialCoefficient(n, k) + k * Math.log(p) + (n - k) * Math.log1p(-p));
}

/** P[Bin(n, p) >= k], summed term by term from k upward (accurate deep in the tail). */
export function binomialUpperTail(n: number, p: number, k: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  let sum = 0;
  for (let j = k; j <= n; j++) {
    const term = binomialPmf(n, p, j);
    sum += term;
    if (term < sum * 1e-18 && j > n * p) break;
  }
  return Math.min(1, sum);
}
