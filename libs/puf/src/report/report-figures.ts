/**
 * The PUF report's figures as data series: what `npm run puf:report -- --html <dir>` draws. Each
 * function takes what the report already computed (or the model it computes from) and gives the
 * points of one figure; charts() turns them into the chart library's aligned series.
 */
import { analyticBitErrorRate } from '../analysis/bit-error-model.js';
import { analyticKeyFailureRate } from '../analysis/code-failure-model.js';
import type { MonteCarloKeyFailure } from '../analysis/key-failure-monte-carlo.js';
import type { ConcatenatedCodeScheme } from '../codes/concatenated-code.js';
import type { OperatingConditions } from '../simulation/operating-conditions.js';
import type { PufProfile } from '../simulation/puf-profiles.js';

/** Bit error rate against temperature: the model's curve per age, and what the simulated fleet measured. */
export interface BitErrorFigure {
  /** The model's curve per age, on `temperatures`. */
  analytic: { ageYears: number; temperatures: number[]; bitErrorRates: number[] }[];
  /** Mean intra-device distance of the fleet per age, at the temperatures read. */
  measured: { ageYears: number; temperatures: number[]; bitErrorRates: number[] }[];
}

/** Key failure rate against bit error rate: the analytic line and the Monte Carlo points. */
export interface KeyFailureFigure {
  analytic: { bitErrorRates: number[]; keyFailureRates: number[] };
  monteCarlo: Pick<MonteCarloKeyFailure, 'bitErrorRate' | 'trials' | 'failures' | 'failureRate' | 'upperBound95'>[];
}

/** Distance histograms: share of values per bin of fractional Hamming distance. */
export interface DistanceFigure {
  binWidth: number;
  /** Lower edge of each bin. */
  bins: number[];
  series: { label: string; count: number; mean: number; shares: number[] }[];
}

export interface ProfileFigures {
  profile: string;
  bitError: BitErrorFigure;
  keyFailure: KeyFailureFigure;
  distances: DistanceFigure;
}

/** Temperatures from -40 to 125 C (the industrial range) every `step` degrees. */
export function temperatureGrid(step = 5): number[] {
  const out: number[] = [];
  for (let t = -40; t <= 125; t += step) out.push(t);
  if (out.at(-1) !== 125) out.push(125);
  return out;
}

/**
 * The bit error figure: the model (analyticBitErrorRate) at every temperature of the grid for each
 * age, and `measure` (the fleet's mean intra-device distance) at the temperatures read.
 */
export function bitErrorFigure(
  profile: PufProfile,
  options: {
    ages: readonly number[];
    measuredAges: readonly number[];
    measuredTemperatures: readonly number[];
    measure: (at: OperatingConditions) => number;
    grid?: readonly number[];
  },
): BitErrorFigure {
  const grid = [...(options.grid ?? temperatureGrid())];
  return {
    analytic: options.ages.map((ageYears) => ({
      ageYears,
      temperatures: grid,
      bitErrorRates: grid.map((temperatureC) =>
        analyticBitErrorRate(profile, { temperatureC, voltageDelta: 0, ageYears }),
      ),
    })),
    measured: options.measuredAges.map((ageYears) => ({
      ageYears,
      temperatures: [...options.measuredTemperatures],
      bitErrorRates: options.measuredTemperatures.map((temperatureC) =>
        options.measure({ temperatureC, voltageDelta: 0, ageYears }),
      ),
    })),
  };
}

/** The key failure figure: the analytic rate on `points` bit error rates spanning the Monte Carlo runs. */
export function keyFailureFigure(
  code: ConcatenatedCodeScheme,
  monteCarlo: readonly MonteCarloKeyFailure[],
  points = 60,
): KeyFailureFigure {
  const bers = monteCarlo.map((m) => m.bitErrorRate);
  const low = Math.min(...bers) * 0.8;
  const high = Math.max(...bers) * 1.05;
  const bitErrorRates = Array.from({ length: points }, (_, i) => low + ((high - low) * i) / (points - 1));
  return {
    analytic: {
      bitErrorRates,
      keyFailureRates: bitErrorRates.map((p) => analyticKeyFailureRate(code, p).keyFailureRate),
    },
    monteCarlo: monteCarlo.map(({ bitErrorRate, trials, failures, failureRate, upperBound95 }) => ({
      bitErrorRate,
      trials,
      failures,
      failureRate,
      upperBound95,
    })),
  };
}

/** Histograms of distances on shared bins of `binWidth` from 0 to past the largest value. */
export function distanceFigure(
  series: readonly { label: string; values: ArrayLike<number> }[],
  binWidth = 0.005,
): DistanceFigure {
  let max = 0;
  for (const { values } of series) for (let i = 0; i < values.length; i++) max = Math.max(max, values[i]!);
  const binCount = Math.max(1, Math.floor(max / binWidth) + 2);
  const bins = Array.from({ length: binCount }, (_, i) => Math.round(i * binWidth * 1e6) / 1e6);
  return {
    binWidth,
    bins,
    series: series.map(({ label, values }) => {
      const counts = new Array<number>(binCount).fill(0);
      let sum = 0;
      for (let i = 0; i < values.length; i++) {
        counts[Math.min(binCount - 1, Math.floor(values[i]! / binWidth))]!++;
        sum += values[i]!;
      }
      return {
        label,
        count: values.length,
        mean: values.length ? sum / values.length : NaN,
        shares: counts.map((c) => (values.length ? c / values.length : 0)),
      };
    }),
  };
}

/** One chart of the HTML report: x values and series aligned on them (null where a series has no point). */
export interface ReportChart {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  /** Percent axes are drawn from fractions. */
  xPercent?: boolean;
  yPercent?: boolean;
  logY?: boolean;
  x: number[];
  /** `colour`: an index into the report's palette, when a series should match another (a model and its measurements). */
  series: { label: string; kind: 'line' | 'points' | 'steps'; values: (number | null)[]; colour?: number }[];
}

type SeriesPoints = {
  label: string;
  kind: ReportChart['series'][number]['kind'];
  xs: readonly number[];
  ys: readonly (number | null)[];
  colour?: number;
};

/** Aligns series given as (x, y) pairs on the union of their x values. */
function aligned(series: readonly SeriesPoints[]): Pick<ReportChart, 'x' | 'series'> {
  const x = [...new Set(series.flatMap((s) => s.xs))].sort((a, b) => a - b);
  const index = new Map(x.map((v, i) => [v, i]));
  return {
    x,
    series: series.map(({ label, kind, xs, ys, colour }) => {
      const values = new Array<number | null>(x.length).fill(null);
      xs.forEach((v, i) => (values[index.get(v)!] = ys[i] ?? null));
      return { label, kind, values, ...(colour === undefined ? {} : { colour }) };
    }),
  };
}

/** A log axis cannot draw zero, and uPlot slows to a halt over some 30 decades: rates under 1e-15 are left out. */
const smallestDrawnRate = 1e-15;

/** The report's charts for one profile: bit error, key failure, distances. */
export function charts(figures: ProfileFigures): ReportChart[] {
  const { profile, bitError, keyFailure, distances } = figures;
  const zeroFailures = keyFailure.monteCarlo.filter((m) => m.failures === 0);
  const someFailures = keyFailure.monteCarlo.filter((m) => m.failures > 0);
  return [
    {
      id: `${profile}-bit-error`,
      title: `${profile}: bit error rate by temperature and age`,
      xLabel: 'temperature [°C]',
      yLabel: 'bit error rate',
      yPercent: true,
      ...aligned([
        ...bitError.analytic.map((a) => ({
          label: `model, ${a.ageYears} y`,
          kind: 'line' as const,
          xs: a.temperatures,
          ys: a.bitErrorRates,
        })),
        ...bitError.measured.map((m) => ({
          label: `measured, ${m.ageYears} y`,
          kind: 'points' as const,
          xs: m.temperatures,
          ys: m.bitErrorRates,
          // The model's colour for the same age.
          ...(bitError.analytic.some((a) => a.ageYears === m.ageYears)
            ? { colour: bitError.analytic.findIndex((a) => a.ageYears === m.ageYears) }
            : {}),
        })),
      ]),
    },
    {
      id: `${profile}-key-failure`,
      title: `${profile}: key failure rate against bit error rate`,
      xLabel: 'bit error rate',
      yLabel: 'key failure rate',
      xPercent: true,
      logY: true,
      ...aligned([
        {
          label: 'analytic',
          kind: 'line',
          xs: keyFailure.analytic.bitErrorRates,
          ys: keyFailure.analytic.keyFailureRates.map((r) => (r >= smallestDrawnRate ? r : null)),
        },
        {
          label: 'Monte Carlo',
          kind: 'points',
          xs: someFailures.map((m) => m.bitErrorRate),
          ys: someFailures.map((m) => m.failureRate),
        },
        {
          label: 'Monte Carlo, no failure: 95 % upper bound',
          kind: 'points',
          xs: zeroFailures.map((m) => m.bitErrorRate),
          ys: zeroFailures.map((m) => m.upperBound95),
        },
      ]),
    },
    {
      id: `${profile}-distances`,
      title: `${profile}: intra- and inter-device distance`,
      xLabel: 'fractional Hamming distance',
      yLabel: 'share',
      xPercent: true,
      yPercent: true,
      x: distances.bins,
      series: distances.series.map((s) => ({
        label: `${s.label} (n=${s.count}, mean ${(s.mean * 100).toFixed(2)} %)`,
        kind: 'steps' as const,
        values: s.shares,
      })),
    },
  ];
}
