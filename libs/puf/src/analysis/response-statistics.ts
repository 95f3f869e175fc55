import { hammingDistanceBits } from '../codes/bit-packing.js';
import { PufDevice } from '../device/puf-device.js';
import { OperatingConditions } from '../simulation/operating-conditions.js';
import { Summary, summarise } from './summary-statistics.js';

/** Standard PUF quality metrics (Maes, "Physically Unclonable Functions", ch. 4) over simulated responses. */

export function fractionalHammingDistance(a: Uint8Array, b: Uint8Array): number {
  return hammingDistanceBits(a, b) / a.length;
}

/**
 * Intra-device distance: per device, mean fractional distance between its enrolment reference
 * and `readsPerDevice` reads at `at`. Returns one value per device (the per-device error rate).
 */
export function intraDeviceDistances(
  devices: readonly PufDevice[],
  references: readonly Uint8Array[],
  at: OperatingConditions,
  readsPerDevice = 1,
): Float64Array {
  const out = new Float64Array(devices.length);
  devices.forEach((d, i) => {
    let sum = 0;
    for (let r = 0; r < readsPerDevice; r++) sum += fractionalHammingDistance(references[i]!, d.readResponse(at));
    out[i] = sum / readsPerDevice;
  });
  return out;
}

/** Inter-device distance: fractional distance between every pair of distinct devices' responses. */
export function interDeviceDistances(responses: readonly Uint8Array[]): Float64Array {
  const n = responses.length;
  const out = new Float64Array((n * (n - 1)) / 2);
  let k = 0;
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) out[k++] = fractionalHammingDistance(responses[i]!, responses[j]!);
  return out;
}

/** Uniformity: fraction of ones in each device's response (ideal 0.5). */
export function uniformity(responses: readonly Uint8Array[]): Float64Array {
  return Float64Array.from(responses, (r) => {
    let ones = 0;
    for (let i = 0; i < r.length; i++) ones += r[i]!;
    return ones / r.length;
  });
}

/** Bit-aliasing: fraction of devices with a one at each cell position (ideal 0.5 everywhere). */
export function bitAliasing(responses: readonly Uint8Array[]): Float64Array {
  const length = responses[0]?.length ?? 0;
  const out = new Float64Array(length);
  for (const r of responses) for (let i = 0; i < length; i++) out[i]! += r[i]!;
  for (let i = 0; i < length; i++) out[i]! /= responses.length;
  return out;
}

export interface ResponseQuality {
  uniformity: Summary;
  bitAliasing: Summary;
  interDevice: Summary;
  /** sqrt(0.25 / n): spread of the inter-device distance expected for ideal independent responses. */
  idealInterDeviceStd: number;
}

export function responseQuality(responses: readonly Uint8Array[]): ResponseQuality {
  const bits = responses[0]?.length ?? 1;
  return {
    uniformity: summarise(uniformity(responses)),
    bitAliasing: summarise(bitAliasing(responses)),
    interDevice: summarise(interDeviceDistances(responses)),
    idealInterDeviceStd: Math.sqrt(0.25 / bits),
  };
}
